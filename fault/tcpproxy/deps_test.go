package tcpproxy_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependencies keeps tcpproxy importable anywhere, tests included: the
// standard library only.
func TestDependencies(t *testing.T) {
	deptest.Only(t, "github.com/duohuo/duohuo/internal/httpjson")
}
