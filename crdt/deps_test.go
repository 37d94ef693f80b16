package crdt_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependsOnlyOnStandardLibrary keeps crdt pure (ARCHITECTURE.md: heavy
// dependencies stay at the edges), as Tailscale's deptest does.
func TestDependsOnlyOnStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/duohuo/duohuo/crdt" {
			t.Errorf("crdt depends on %s; only the standard library is allowed", p)
		}
	}
}
