package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const fixtures = "../../platform/testdata"

func TestEnvJSONReportsArchAndDistribution(t *testing.T) {
	tests := []struct {
		name         string
		root         string
		wantArch     string
		wantDistro   string
		wantDomestic bool
		wantCrypto   string
	}{
		{"Kylin V10 server on Kunpeng 920", filepath.Join(fixtures, "kylin-v10-server-kunpeng920"), "arm64", "kylin-server", true, "gm-first"},
		{"UOS server on Hygon", filepath.Join(fixtures, "uos-server-20-hygon"), "amd64", "uos-server", true, "gm-first"},
		{"deepin 23 on Loongson 3A6000", filepath.Join(fixtures, "deepin-23-3a6000"), "loong64", "deepin", true, "gm-first"},
		{"RHEL 9 on AMD", filepath.Join(fixtures, "rhel-9-amd"), "amd64", "rhel", false, "international-first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run([]string{"env", "--json", "--root", tc.root}, &out, &errb); code != exitOK {
				t.Fatalf("duohuo env --json --root %s: exit %d, stderr %q", tc.root, code, errb.String())
			}
			var got struct {
				Arch string `json:"arch"`
				OS   struct {
					Distro string `json:"distro"`
				} `json:"os"`
				Domestic bool `json:"domestic"`
				Defaults struct {
					Crypto string `json:"crypto"`
				} `json:"defaults"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("duohuo env --json output is not JSON: %v\n%s", err, out.String())
			}
			if got.Arch != tc.wantArch || got.OS.Distro != tc.wantDistro || got.Domestic != tc.wantDomestic || got.Defaults.Crypto != tc.wantCrypto {
				t.Errorf("duohuo env --json --root %s = arch %q distro %q domestic %v crypto %q; want %q %q %v %q",
					tc.root, got.Arch, got.OS.Distro, got.Domestic, got.Defaults.Crypto,
					tc.wantArch, tc.wantDistro, tc.wantDomestic, tc.wantCrypto)
			}
		})
	}
}

func TestEnvJSONOnThisMachine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"env", "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("duohuo env --json: exit %d, stderr %q", code, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("duohuo env --json output is not JSON: %v\n%s", err, out.String())
	}
	// Not compared with runtime.GOARCH: under qemu-user the machine is the
	// host's architecture, not the binary's.
	if arch, _ := got["arch"].(string); runtime.GOOS == "linux" && (arch == "" || arch == "unknown") {
		t.Errorf("duohuo env --json arch = %v, want a known architecture", got["arch"])
	}
	if _, ok := got["os"].(map[string]any)["distro"]; !ok {
		t.Errorf("duohuo env --json has no os.distro:\n%s", out.String())
	}
}

func TestEnvTable(t *testing.T) {
	var out, errb bytes.Buffer
	root := filepath.Join(fixtures, "kylin-v10-desktop-sp1-3a5000")
	if code := run([]string{"env", "--root", root}, &out, &errb); code != exitOK {
		t.Fatalf("duohuo env --root %s: exit %d, stderr %q", root, code, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	want := map[string]string{
		"distribution":   "Kylin V10 SP1",
		"classification": "kylin-desktop",
		"domestic":       "yes (信创 distribution: yes, CPU: yes)",
		"cpu":            "loongson — Loongson-3A5000LL (2 logical CPUs)",
		"arch":           "loong64",
		"kernel":         "5.4.18-116-generic",
		"cgroup":         "unknown",
		"cpu quota":      "none",
		"memory limit":   "none",
		"crypto (auto)":  "gm-first (domestic distribution kylin-desktop)",
	}
	col := -1
	for _, l := range lines {
		for label, value := range want {
			if !strings.HasPrefix(l, label+"  ") {
				continue
			}
			i := strings.Index(l, value)
			if i < 0 || strings.TrimSpace(l[len(label):i]) != "" {
				t.Errorf("line %q: want value %q after label %q", l, value, label)
				continue
			}
			if col >= 0 && i != col {
				t.Errorf("line %q: value starts at column %d, others at %d (not aligned)", l, i, col)
			}
			col = i
			delete(want, label)
		}
	}
	for label := range want {
		t.Errorf("duohuo env output has no %q line:\n%s", label, out.String())
	}
	if !strings.Contains(out.String(), "old-world LoongArch") {
		t.Errorf("duohuo env on an old-world LoongArch root gives no warning:\n%s", out.String())
	}
}

func TestEnvCgroupLimitsAreHumanReadable(t *testing.T) {
	var out, errb bytes.Buffer
	root := filepath.Join(fixtures, "container-cgroup-v1")
	if code := run([]string{"env", "--root", root}, &out, &errb); code != exitOK {
		t.Fatalf("duohuo env --root %s: exit %d, stderr %q", root, code, errb.String())
	}
	for _, want := range []string{"cpu quota       1.5 CPUs", "memory limit    512 MiB", "cgroup          v1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("duohuo env --root %s: no %q in\n%s", root, want, out.String())
		}
	}
}

func TestEnvErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.MkdirAll(filepath.Join(bad, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "etc", "os-release"), []byte("ID=kylin\nbroken line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing root is a usage error", []string{"env", "--root", filepath.Join(dir, "nope")}, exitUsage, "--root"},
		{"a file as root is a usage error", []string{"env", "--root", file}, exitUsage, "not a directory"},
		{"extra arguments are a usage error", []string{"env", "extra"}, exitUsage, "unknown command"},
		{"a malformed os-release is a runtime error naming the file", []string{"env", "--root", bad}, exitRuntime, "etc/os-release: line 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.wantCode || !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("duohuo %v: exit %d stderr %q; want exit %d and %q", tc.args, code, errb.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
}
