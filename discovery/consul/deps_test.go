package consul_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestImportsNoConsulSDK keeps the source on the standard library: it
// speaks the small HTTP API by hand.
func TestImportsNoConsulSDK(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/discovery")
}
