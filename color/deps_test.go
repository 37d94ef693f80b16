package color_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps color a pure package: the standard library only
// (docs/architecture.md, "heavy dependencies stay at the edges"), so that any
// service can import it.
func TestDependencies(t *testing.T) {
	deptest.Only(t)
}
