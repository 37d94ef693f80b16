package gm_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps gm a thin layer over gmsm: the standard library,
// gmsm and what gmsm needs (golang.org/x/crypto's cryptobyte), so that the
// replica and the audit log can seal data at rest without pulling in
// anything else.
func TestDependencies(t *testing.T) {
	deptest.Only(t, "github.com/emmansun/gmsm/...", "golang.org/x/crypto/...")
}
