package linearize_test

import (
	"testing"

	"github.com/duohuo/duohuo/internal/deptest"
)

// TestDoesNotLinkAnEtcdServer keeps the package cheap to import: a user who
// checks a lock against their own cluster links the etcd client and
// Porcupine, not the etcd server (raft, bbolt) nor duohuo's internal
// packages (the embedded cluster of `duohuo lock verify --embedded` lives
// in internal/etcdtest, and is wired in by the command).
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
