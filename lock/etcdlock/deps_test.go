package etcdlock_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDoesNotLinkAnEtcdServer keeps the lock backend a client: its tests
// run an embedded server, the package must not.
func TestDoesNotLinkAnEtcdServer(t *testing.T) {
	deptest.None(t,
		"github.com/duohuo/duohuo/internal/...",
		// Standard-library-only helpers the pure packages share (the
		// chaos proxy's JSON answers): nothing heavy comes with them.
		"!github.com/duohuo/duohuo/internal/httpjson",
		"!github.com/duohuo/duohuo/internal/cowmap",
		"go.etcd.io/etcd/server/...",
		"go.etcd.io/raft/...",
		"go.etcd.io/bbolt/...",
	)
}
