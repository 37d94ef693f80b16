package config_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the package on the standard library, goccy/go-yaml
// and duohuo's pure packages (fault and gray, whose syntax the file uses, and
// request and discovery, which they need): the configuration format must not pull the
// gateway's heavy dependencies into every tool that reads it.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch p {
		case "github.com/duohuo/duohuo/internal/config", "github.com/duohuo/duohuo/fault", "github.com/duohuo/duohuo/gray",
			"github.com/duohuo/duohuo/discovery", "github.com/duohuo/duohuo/request":
			continue
		}
		if !strings.HasPrefix(p, "github.com/goccy/go-yaml") {
			t.Errorf("internal/config depends on %s; only the standard library and goccy/go-yaml are allowed", p)
		}
	}
}
