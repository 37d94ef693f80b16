package health_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps health a pure package: the standard library and
// duohuo's discovery only (docs/architecture.md, "heavy dependencies stay at the
// edges").
func TestDependencies(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/discovery")
}
