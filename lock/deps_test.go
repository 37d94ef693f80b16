package lock_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDependsOnlyOnTheStandardLibrary keeps etcd and every other module out
// of package lock: users import it for the interface and the fence without
// pulling in a backend.
func TestDependsOnlyOnTheStandardLibrary(t *testing.T) {
	deptest.Only(t)
}
