package linearize

import (
	"context"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// Cluster is the control a server-side fault needs over the etcd cluster:
// member kill and restart, and a fault proxy in front of every member's
// peer and client listener. A user's own cluster offers none, so only
// client-side faults (pauses, stopped client processes) apply there. The
// duohuo command's `lock verify --embedded` provides one with an embedded
// cluster.
type Cluster interface {
	// Size is the number of members.
	Size() int
	// Leader returns the current leader's index.
	Leader(ctx context.Context) (int, error)
	// Kill stops member i abruptly; Restart brings it back.
	Kill(i int)
	Restart(i int) error
	// PeerProxy and ClientProxy return the fault proxies in front of member
	// i's peer and client listeners.
	PeerProxy(i int) *tcpproxy.Proxy
	ClientProxy(i int) *tcpproxy.Proxy
}

// Env is where a run happens: the endpoints clients connect to and, for a
// cluster the caller controls, its control.
type Env struct {
	Endpoints []string
	// Cluster is nil for a cluster the harness does not control.
	Cluster Cluster
}
