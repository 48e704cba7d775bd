// runc-capfix is an OCI runtime wrapper: it removes from a container's capability
// sets every capability that this process's own bounding set lacks, then execs the
// real runc with the same arguments.
//
// Why: on some VMs the capability bounding set lacks a capability (measured here:
// CapBnd 0x01fffeffffff, i.e. no CAP_SYS_RESOURCE). `docker run --privileged` (and a
// privileged pod in containerd) asks runc for every known capability, and runc fails
// with "unable to apply caps". kind nodes are privileged containers, so kind cannot
// start. Dropping the capabilities the kernel would never grant anyway is exactly what
// a privileged container can have on such a host; nothing else in the spec changes.
//
// Without CAP_SYS_RESOURCE a process also cannot lower its oom_score_adj, and runc fails
// with "can't get final child's PID from pipe: EOF" when the spec asks for a value below
// the caller's (the kubelet asks -998 for pod sandboxes, -997 for critical pods). So on
// `create`/`run` a process.oomScoreAdj below this process's own is raised to it.
//
// It rewrites:
//   - `create` / `run`: <bundle>/config.json (bundle from --bundle/-b, default: cwd)
//   - `exec`: the --process/-p file (docker exec --privileged, kubectl exec into a
//     privileged pod)
//
// On a host whose bounding set is complete this is a no-op pass-through.
//
// Environment: RUNC_CAPFIX_RUNC = the runc to exec (default: the first of
// /usr/sbin/runc, /usr/bin/runc, /usr/local/sbin/runc.real that exists).
// Register it with Docker in /etc/docker/daemon.json as a runtime (and as
// default-runtime: kind cannot choose a runtime), and with containerd as the runc
// options' BinaryName. See tests/infra/kind/README.md.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// capability names in bit order (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// global runc flags that take a value (the subcommand is the first other non-flag word).
var globalWithValue = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

func main() {
	args := os.Args[1:]
	if err := fix(args); err != nil {
		// Never block the runtime: report and go on; runc gives the real error if any.
		fmt.Fprintf(os.Stderr, "runc-capfix: %v\n", err)
	}
	runc := realRunc()
	if err := syscall.Exec(runc, append([]string{runc}, args...), os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "runc-capfix: exec %s: %v\n", runc, err)
		os.Exit(127)
	}
}

func realRunc() string {
	if r := os.Getenv("RUNC_CAPFIX_RUNC"); r != "" {
		return r
	}
	self, _ := os.Executable()
	for _, c := range []string{"/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc.real"} {
		if c == self {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return "runc"
}

// fix finds the subcommand and rewrites the spec file it uses, if any.
func fix(args []string) error {
	sub, rest := subcommand(args)
	var file string
	switch sub {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		file = filepath.Join(bundle, "config.json")
	case "exec":
		file = flagValue(rest, "--process", "-p")
	}
	if file == "" {
		return nil
	}
	missing, err := missingCaps()
	if err != nil || len(missing) == 0 {
		return err
	}
	minOOM := noOOMFloor
	if missing["CAP_SYS_RESOURCE"] && sub != "exec" {
		if data, err := os.ReadFile("/proc/self/oom_score_adj"); err == nil {
			if v, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				minOOM = v
			}
		}
	}
	return rewrite(file, sub != "exec", missing, minOOM)
}

// noOOMFloor: leave process.oomScoreAdj alone.
const noOOMFloor = -1001

func subcommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if globalWithValue[a] {
				i++
			}
			continue
		}
		return a, args[i+1:]
	}
	return "", nil
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if strings.HasPrefix(a, name+"=") {
				return strings.TrimPrefix(a, name+"=")
			}
		}
	}
	return ""
}

// missingCaps returns the known capability names absent from our bounding set.
func missingCaps() (map[string]bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "CapBnd:") {
			continue
		}
		bnd, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "CapBnd:")), 16, 64)
		if err != nil {
			return nil, err
		}
		missing := map[string]bool{}
		for bit, name := range capNames {
			if bnd&(1<<uint(bit)) == 0 {
				missing[name] = true
			}
		}
		return missing, nil
	}
	return nil, fmt.Errorf("no CapBnd in /proc/self/status")
}

// rewrite drops the missing capabilities from the capability sets in file (an OCI
// config.json when spec is true, else a process.json) and raises process.oomScoreAdj to
// minOOM, keeping every other field as is.
func rewrite(file string, spec bool, missing map[string]bool, minOOM int) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	process := doc
	if spec {
		raw, ok := doc["process"]
		if !ok {
			return nil
		}
		process = map[string]json.RawMessage{}
		if err := json.Unmarshal(raw, &process); err != nil {
			return fmt.Errorf("%s: process: %w", file, err)
		}
	}
	changed := false
	if raw, ok := process["capabilities"]; ok && string(raw) != "null" {
		var caps map[string][]string
		if err := json.Unmarshal(raw, &caps); err != nil {
			return fmt.Errorf("%s: capabilities: %w", file, err)
		}
		capsChanged := false
		for set, list := range caps {
			kept := list[:0:0]
			for _, c := range list {
				if missing[c] {
					capsChanged = true
					continue
				}
				kept = append(kept, c)
			}
			caps[set] = kept
		}
		if capsChanged {
			if process["capabilities"], err = json.Marshal(caps); err != nil {
				return err
			}
			changed = true
		}
	}
	if raw, ok := process["oomScoreAdj"]; ok && minOOM > noOOMFloor {
		var v int
		if err := json.Unmarshal(raw, &v); err == nil && v < minOOM {
			process["oomScoreAdj"] = json.RawMessage(strconv.Itoa(minOOM))
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if spec {
		if doc["process"], err = json.Marshal(process); err != nil {
			return err
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp := file + ".capfix"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
