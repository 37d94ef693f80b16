package toxiapi_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps toxiapi on the standard library and tcpproxy (and
// what tcpproxy itself may use).
func TestDependencies(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/fault/tcpproxy", "github.com/duohuo/duohuo/internal/httpjson")
}
