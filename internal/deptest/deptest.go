// Package deptest checks what a package depends on, for the tests that keep
// duohuo's pure packages pure (docs/architecture.md: heavy dependencies stay at
// the edges). It is `go list -deps` and a filter, written once here rather
// than in each package's test.
package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// Only fails t for each package outside the standard library that the
// package in the current directory depends on, directly or not, other than
// itself and the allowed ones: an import path, or a path ending in "/..."
// for that path and everything under it.
func Only(t testing.TB, allowed ...string) {
	t.Helper()
	self, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != strings.TrimSpace(string(self)) && !allows(allowed, p) {
			t.Errorf("%s depends on %s; only the standard library and %v are allowed", strings.TrimSpace(string(self)), p, allowed)
		}
	}
}

func allows(allowed []string, p string) bool {
	for _, a := range allowed {
		if tree, ok := strings.CutSuffix(a, "/..."); ok {
			if p == tree || strings.HasPrefix(p, tree+"/") {
				return true
			}
		} else if p == a {
			return true
		}
	}
	return false
}
