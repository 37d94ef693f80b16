package slo_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps slo a pure package: the standard library only
// (docs/architecture.md, "heavy dependencies stay at the edges"), so that
// any service can import it and the gateway evaluates objectives without
// Prometheus.
func TestDependencies(t *testing.T) {
	deptest.Only(t)
}
