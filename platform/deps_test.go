package platform_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependsOnlyOnTheStandardLibrary keeps platform a pure package
// (docs: ARCHITECTURE.md, "heavy dependencies stay at the edges").
func TestDependsOnlyOnTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/duohuo/duohuo/platform" {
			t.Errorf("platform depends on non-standard package %s", p)
		}
	}
}
