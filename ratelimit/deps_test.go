package ratelimit_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps ratelimit a pure package: the standard library only
// (docs/architecture.md, "heavy dependencies stay at the edges").
func TestDependencies(t *testing.T) { deptest.Only(t) }
