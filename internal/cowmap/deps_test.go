package cowmap_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps cowmap on the standard library alone: the pure
// packages (breaker, gray/analysis) import it.
func TestDependencies(t *testing.T) { deptest.Only(t) }
