package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Every subcommand is documented in docs/cli.md and in both READMEs, so the
// docs cannot fall behind the binary.
func TestEverySubcommandIsDocumented(t *testing.T) {
	docs := map[string]string{}
	for _, p := range []string{"../../docs/cli.md", "../../README.md", "../../README.zh-CN.md"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs[p] = string(b)
	}
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb)
	for _, c := range root.Commands() {
		name := c.Name()
		if name == "help" || name == "completion" {
			continue
		}
		for p, text := range docs {
			if !strings.Contains(text, "`duohuo "+name) {
				t.Errorf("%s does not document `duohuo %s`", p, name)
			}
		}
	}
}
