package discovery_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreImportsOnlyTheStandardLibrary keeps registry clients (DNS, etcd,
// YAML) in the sub-packages: the balancer and the gateway's decision core
// import this package.
func TestCoreImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/duohuo/duohuo/discovery").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(pkg, "/")
		if strings.Contains(first, ".") && pkg != "github.com/duohuo/duohuo/discovery" {
			t.Errorf("discovery depends on %s; only the standard library is allowed", pkg)
		}
	}
}
