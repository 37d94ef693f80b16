package fault_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps fault a pure package: the standard library and
// duohuo's own request package only (ARCHITECTURE.md, "heavy dependencies
// stay at the edges").
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/duohuo/duohuo/fault").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{"github.com/duohuo/duohuo/fault": true, "github.com/duohuo/duohuo/request": true}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("fault imports %s; only the standard library and duohuo/request are allowed", p)
		}
	}
}
