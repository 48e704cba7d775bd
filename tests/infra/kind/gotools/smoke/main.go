// smoke is the one binary the offline kind cluster checks run in pods
// (tests/infra/kind/smoke.yaml), so they need no image from a registry:
//
//	smoke serve ADDR DIR   HTTP server; on start appends a line to DIR/boots (a PVC) and
//	                       answers GET / with "ok <hostname> boots=<lines in DIR/boots>"
//	smoke get URL [TRIES]  GET URL until it answers 200 (1 s apart), print the body
//	smoke caps             print CapEff; exit 0 only when CAP_SYS_ADMIN and CAP_NET_ADMIN
//	                       are effective (a privileged pod)
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		if len(os.Args) != 4 {
			usage()
		}
		serve(os.Args[2], os.Args[3])
	case "get":
		if len(os.Args) < 3 {
			usage()
		}
		tries := 60
		if len(os.Args) > 3 {
			tries, _ = strconv.Atoi(os.Args[3])
		}
		os.Exit(get(os.Args[2], tries))
	case "caps":
		os.Exit(caps())
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: smoke serve ADDR DIR | smoke get URL [TRIES] | smoke caps")
	os.Exit(2)
}

func serve(addr, dir string) {
	host, _ := os.Hostname()
	boots := filepath.Join(dir, "boots")
	f, err := os.OpenFile(boots, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), host)
	f.Close()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(boots)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "ok %s boots=%d\n", host, strings.Count(string(data), "\n"))
	})
	fmt.Fprintf(os.Stderr, "smoke: serving %s on %s\n", dir, addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		os.Exit(1)
	}
}

func get(url string, tries int) int {
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for i := 0; i < tries; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				fmt.Print(string(body))
				return 0
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(time.Second)
	}
	fmt.Fprintf(os.Stderr, "smoke: GET %s failed %d times; last: %s\n", url, tries, last)
	return 1
}

func caps() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "smoke:", err)
		return 1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				fmt.Fprintln(os.Stderr, "smoke:", err)
				return 1
			}
			const sysAdmin, netAdmin = 21, 12
			ok := eff&(1<<sysAdmin) != 0 && eff&(1<<netAdmin) != 0
			fmt.Printf("CapEff=%016x privileged=%v\n", eff, ok)
			if ok {
				return 0
			}
			return 1
		}
	}
	fmt.Fprintln(os.Stderr, "smoke: no CapEff")
	return 1
}
