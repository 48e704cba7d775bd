package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSubcommandAndFlags(t *testing.T) {
	args := []string{"--root", "/run/runc", "--log", "/x/log.json", "--log-format", "json", "--systemd-cgroup",
		"create", "--bundle", "/b", "--pid-file", "/p", "id"}
	sub, rest := subcommand(args)
	if sub != "create" || flagValue(rest, "--bundle", "-b") != "/b" {
		t.Fatalf("got %q %v", sub, rest)
	}
	sub, rest = subcommand([]string{"exec", "--process=/tmp/p.json", "--detach", "id"})
	if sub != "exec" || flagValue(rest, "--process", "-p") != "/tmp/p.json" {
		t.Fatalf("got %q %v", sub, rest)
	}
	if sub, _ = subcommand([]string{"--debug", "state", "id"}); sub != "state" {
		t.Fatalf("got %q", sub)
	}
}

func TestRewriteSpecKeepsOtherFields(t *testing.T) {
	dir := t.TempDir()
	spec := `{"ociVersion":"1.0.2","process":{"args":["sh"],"user":{"uid":0,"gid":0},` +
		`"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"],` +
		`"permitted":["CAP_CHOWN","CAP_SYS_RESOURCE"]}},"linux":{"resources":{"memory":{"limit":9223372036854771712}}}}`
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(file, true, map[string]bool{"CAP_SYS_RESOURCE": true}, noOOMFloor); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Process struct {
			Args []string
			Caps map[string][]string `json:"capabilities"`
		}
		Linux json.RawMessage
	}
	data, _ := os.ReadFile(file)
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"bounding": {"CAP_CHOWN"}, "effective": {}, "permitted": {"CAP_CHOWN"}}
	if !reflect.DeepEqual(got.Process.Caps, want) {
		t.Fatalf("caps %v, want %v", got.Process.Caps, want)
	}
	if string(got.Linux) != `{"resources":{"memory":{"limit":9223372036854771712}}}` {
		t.Fatalf("linux section changed: %s", got.Linux)
	}
	if !reflect.DeepEqual(got.Process.Args, []string{"sh"}) {
		t.Fatalf("args changed: %v", got.Process.Args)
	}
}

func TestRewriteProcessFileAndNoop(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "process.json")
	orig := `{"args":["ls"],"capabilities":{"bounding":["CAP_NET_ADMIN","CAP_SYS_RESOURCE"]}}`
	os.WriteFile(file, []byte(orig), 0o600)
	if err := rewrite(file, false, map[string]bool{"CAP_SYS_RESOURCE": true}, noOOMFloor); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if string(data) != `{"args":["ls"],"capabilities":{"bounding":["CAP_NET_ADMIN"]}}` {
		t.Fatalf("got %s", data)
	}
	// nothing to drop: the file is left byte for byte
	before, _ := os.ReadFile(file)
	if err := rewrite(file, false, map[string]bool{"CAP_BPF": true}, noOOMFloor); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(file)
	if string(before) != string(after) {
		t.Fatalf("rewritten without need: %s", after)
	}
}

func TestRewriteRaisesOOMScoreAdj(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.json")
	for _, tc := range []struct{ in, want string }{
		{`{"process":{"oomScoreAdj":-998,"args":["/pause"]}}`, `{"process":{"args":["/pause"],"oomScoreAdj":0}}`},
		{`{"process":{"oomScoreAdj":1000}}`, `{"process":{"oomScoreAdj":1000}}`},
		{`{"process":{"args":["x"]}}`, `{"process":{"args":["x"]}}`},
	} {
		os.WriteFile(file, []byte(tc.in), 0o600)
		if err := rewrite(file, true, map[string]bool{"CAP_SYS_RESOURCE": true}, 0); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(file)
		if string(data) != tc.want {
			t.Fatalf("%s: got %s, want %s", tc.in, data, tc.want)
		}
	}
}
