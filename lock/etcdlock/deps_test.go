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
		"go.etcd.io/etcd/server/...",
		"go.etcd.io/raft/...",
		"go.etcd.io/bbolt/...",
	)
}
