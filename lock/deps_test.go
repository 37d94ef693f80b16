package lock_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependsOnlyOnTheStandardLibrary keeps etcd and every other module out
// of package lock: users import it for the interface and the fence without
// pulling in a backend.
func TestDependsOnlyOnTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/duohuo/duohuo/lock" {
			t.Errorf("package lock depends on %s, want the standard library only", p)
		}
	}
}
