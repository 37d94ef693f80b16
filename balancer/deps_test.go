package balancer_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps balancer a pure package: the standard library and
// duohuo's own core types only (see STYLE.md, "Heavy dependencies stay at
// the edges").
func TestDependencies(t *testing.T) {
	allowed := map[string]bool{
		"github.com/duohuo/duohuo/balancer":  true,
		"github.com/duohuo/duohuo/discovery": true,
		"github.com/duohuo/duohuo/request":   true,
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !allowed[pkg] {
			t.Errorf("balancer depends on %s; only the standard library, discovery and request are allowed", pkg)
		}
	}
}
