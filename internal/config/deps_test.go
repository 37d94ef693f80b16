package config_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps the package on the standard library, its two YAML
// parsers (go.yaml.in/yaml/v3 reads files, goccy/go-yaml says where a file
// that does not parse is wrong) and duohuo's pure packages (fault and gray,
// whose syntax the file uses, slo, whose objectives it checks, and request
// and discovery, which they need,
// and internal/yamlsplit, which cuts large files): the configuration
// format must not pull the gateway's heavy dependencies into every tool
// that reads it.
func TestDependencies(t *testing.T) {
	deptest.Only(t,
		"github.com/duohuo/duohuo/fault",
		"github.com/duohuo/duohuo/gray",
		"github.com/duohuo/duohuo/color",
		"github.com/duohuo/duohuo/discovery",
		"github.com/duohuo/duohuo/request",
		"github.com/duohuo/duohuo/slo",
		"github.com/duohuo/duohuo/internal/yamlsplit",
		"github.com/duohuo/duohuo/internal/httpjson",
		"github.com/goccy/go-yaml/...",
		"go.yaml.in/yaml/v3",
	)
}
