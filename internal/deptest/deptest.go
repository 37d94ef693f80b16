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
	self, deps := list(t)
	for _, p := range deps {
		if p != self && !matches(allowed, p) {
			t.Errorf("%s depends on %s; only the standard library and %v are allowed", self, p, allowed)
		}
	}
}

// None fails t for each package that the package in the current directory
// depends on, directly or not, and that matches one of forbidden (patterns
// as in [Only]). A pattern starting with "!" is an exception: a package it
// matches is allowed even if another pattern forbids it. Use it where the
// allowed set is large (a client library and its transitive imports) but a
// few trees must stay out.
func None(t testing.TB, forbidden ...string) {
	t.Helper()
	var deny, except []string
	for _, f := range forbidden {
		if e, ok := strings.CutPrefix(f, "!"); ok {
			except = append(except, e)
		} else {
			deny = append(deny, f)
		}
	}
	self, deps := list(t)
	for _, p := range deps {
		if p != self && matches(deny, p) && !matches(except, p) {
			t.Errorf("%s depends on %s, which matches one of %v", self, p, forbidden)
		}
	}
}

// list returns the import path of the package in the current directory and
// the packages outside the standard library that it depends on.
func list(t testing.TB) (self string, deps []string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	self = strings.TrimSpace(string(out))
	out, err = exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	return self, strings.Fields(string(out))
}

func matches(patterns []string, p string) bool {
	for _, a := range patterns {
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
