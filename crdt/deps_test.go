package crdt_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependsOnlyOnStandardLibrary keeps crdt pure (docs/architecture.md: heavy
// dependencies stay at the edges), as Tailscale's deptest does.
func TestDependsOnlyOnStandardLibrary(t *testing.T) {
	deptest.Only(t)
}
