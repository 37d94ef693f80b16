package tcpproxy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps tcpproxy importable anywhere, tests included: the
// standard library only.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/duohuo/duohuo/fault/tcpproxy").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/duohuo/duohuo/fault/tcpproxy" {
			t.Errorf("tcpproxy imports %s; only the standard library is allowed", p)
		}
	}
}
