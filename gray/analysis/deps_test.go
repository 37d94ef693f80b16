package analysis_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps analysis a pure package: the standard library only
// (ARCHITECTURE.md, "heavy dependencies stay at the edges"), so that any
// service can import it.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/duohuo/duohuo/gray/analysis": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("analysis depends on %s; only the standard library and %v are allowed", p, allowed)
		}
	}
}
