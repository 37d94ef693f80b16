package balancer_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps balancer a pure package: the standard library and
// duohuo's own core types only (docs/architecture.md, "heavy dependencies stay at
// the edges").
func TestDependencies(t *testing.T) {
	deptest.Only(t,
		"github.com/duohuo/duohuo/discovery",
		"github.com/duohuo/duohuo/request",
	)
}
