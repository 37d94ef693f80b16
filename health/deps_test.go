package health_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps health a pure package: the standard library and
// duohuo's discovery only (ARCHITECTURE.md, "heavy dependencies stay at the
// edges").
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/duohuo/duohuo/health":    true,
		"github.com/duohuo/duohuo/discovery": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("health depends on %s; only the standard library and discovery are allowed", p)
		}
	}
}
