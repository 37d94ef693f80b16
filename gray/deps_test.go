package gray_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps gray a pure package: the standard library only, plus
// request and discovery
// (ARCHITECTURE.md, "heavy dependencies stay at the edges"), so that any
// service can import it.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := map[string]bool{
		"github.com/duohuo/duohuo/gray":      true,
		"github.com/duohuo/duohuo/request":   true,
		"github.com/duohuo/duohuo/discovery": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("gray depends on %s; only the standard library and %v are allowed", p, allowed)
		}
	}
}
