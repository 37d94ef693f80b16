package platform_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependsOnlyOnTheStandardLibrary keeps platform a pure package
// (docs/architecture.md, "heavy dependencies stay at the edges").
func TestDependsOnlyOnTheStandardLibrary(t *testing.T) {
	deptest.Only(t)
}
