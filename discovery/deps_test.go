package discovery_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestCoreImportsOnlyTheStandardLibrary keeps registry clients (DNS, etcd,
// YAML) in the sub-packages: the balancer and the gateway's decision core
// import this package.
func TestCoreImportsOnlyTheStandardLibrary(t *testing.T) {
	deptest.Only(t)
}
