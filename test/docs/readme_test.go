// Package docs_test keeps the repository's front pages true: the README
// and its Chinese version name every public package.
package docs_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Every importable package outside internal/, cmd/, test/ and bench/ is
// named in the layout table of both READMEs.
func TestREADMENamesEveryPublicPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/duohuo/duohuo/"
	var public []string
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(p, module)
		if rel == p || strings.Contains("/"+rel+"/", "/internal/") {
			continue
		}
		switch strings.SplitN(rel, "/", 2)[0] {
		case "cmd", "test", "bench", "examples":
			continue
		}
		public = append(public, rel)
	}
	if len(public) < 10 {
		t.Fatalf("go list found %d public packages (%v): the walk is broken", len(public), public)
	}
	for _, readme := range []string{"../../README.md", "../../README.zh-CN.md"} {
		b, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range public {
			if !strings.Contains(string(b), "| `"+p+"` |") {
				t.Errorf("%s: the package table has no row for %s", readme, p)
			}
		}
	}
}
