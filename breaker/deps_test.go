package breaker_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps breaker a pure package: the standard library only, and
// internal/cowmap (itself standard library only)
// (docs/architecture.md, "heavy dependencies stay at the edges"), so that any
// service can import it.
func TestDependencies(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/internal/cowmap")
}
