package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/drill"
)

func TestDrillRefusesBadFlagsWithExit2(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"drill", "--scenario", "meltdown"}, `unknown scenario "meltdown"`},
		{"zero rate", []string{"drill", "--rate", "0"}, "--rate 0: must be positive"},
		{"duration too short for the phases", []string{"drill", "--duration", "1s"}, "--duration 1s: must be between 4s and 1h"},
		{"stray argument", []string{"drill", "now"}, "unknown command"},
		{"target that is not a URL", []string{"drill", "--target", "localhost:8080", "--report", "/dev/null/x"}, `target "localhost:8080": want an http:// or https:// URL`},
		{"fault proxy without a target", []string{"drill", "--scenario", "blackhole", "--fault-proxy", "http://127.0.0.1:8474"}, "--fault-proxy needs --target"},
		{"a remote target", []string{"drill", "--target", "http://10.1.2.3:8080/"}, "--target http://10.1.2.3:8080/: not a loopback address; a drill sends load and injects faults, so a remote target needs --allow-remote"},
		{"a remote fault proxy", []string{"drill", "--scenario", "blackhole", "--target", "http://[::1]:8080/", "--fault-proxy", "http://chaos.example.com:8474"}, "--fault-proxy http://chaos.example.com:8474: not a loopback address"},
		{"fault proxy that is not a URL", []string{"drill", "--target", "http://127.0.0.1:8080/", "--fault-proxy", "127.0.0.1:8474", "--report", "/dev/null/x"}, `fault proxy "127.0.0.1:8474": want the http:// URL`},
		{"fault proxies with no scenario that uses them", []string{"drill", "--scenario", "a,b", "--target", "http://127.0.0.1:8080/", "--fault-proxy", "http://127.0.0.1:8474", "--report", "/dev/null/x"}, "none of the scenarios breaks the network"},
		{"zero per-try timeout", []string{"drill", "--per-try-timeout", "0s"}, "--per-try-timeout 0s: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != exitUsage {
				t.Errorf("duohuo %v exit = %d, want %d; stderr %q", tc.args, code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("duohuo %v stderr = %q, want it to say %q", tc.args, errb.String(), tc.want)
			}
		})
	}
}

// A short real drill: progress lines, the summary on stdout, and the three
// report files.
func TestDrillWritesItsReports(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rep")
	var out, errb bytes.Buffer
	args := []string{"drill", "--scenario", "a", "--duration", "4s", "--rate", "50", "--report", dir, "--open"}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("duohuo %v exit = %d, stderr %q", args, code, errb.String())
	}
	for _, want := range []string{"duohuo drill: 1 scenario(s), 50 rps, 4s each", "  steady ", "| a | steady | steady | 200 |", "report.md", "Open: file://" + filepath.Join(dir, "report.html")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep drill.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Phases[0].Requests != 200 {
		t.Errorf("report.json = %+v, want one scenario of 200 requests", rep.Scenarios)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil || !strings.Contains(string(md), "## (a) steady:") {
		t.Errorf("report.md = %q, %v; want the scenario's section", md, err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(page), "<svg") || !strings.Contains(string(page), `id="steady"`) {
		t.Errorf("report.html: %v; want the scenario's timeline", err)
	}
}
