package fault_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps fault a pure package: the standard library and
// duohuo's own request package only (docs/architecture.md, "heavy dependencies
// stay at the edges").
func TestDependencies(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/request", "github.com/duohuo/duohuo/internal/httpjson")
}
