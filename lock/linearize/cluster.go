package linearize

import (
	"context"
	"errors"
	"sync"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/etcdtest"
)

// Cluster is the control a server-side fault needs over the etcd cluster.
// [EmbeddedCluster] implements it; a user's own cluster has none, so only
// client-side faults (pauses) apply there.
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

// Env is where a run happens: the endpoints clients connect to and, for an
// embedded cluster, its control.
type Env struct {
	Endpoints []string
	// Cluster is nil for a cluster the harness does not control.
	Cluster Cluster
}

// EmbeddedCluster is a 3-member etcd cluster running in this process, each
// member's peer and client listeners behind a fault proxy. Its methods are
// safe for concurrent use.
type EmbeddedCluster struct {
	c       *etcdtest.Cluster
	mu      sync.Mutex // guards proxies while they are created
	peer    []*tcpproxy.Proxy
	client  []*tcpproxy.Proxy
	proxies []*tcpproxy.Proxy
}

var _ Cluster = (*EmbeddedCluster)(nil)

// StartCluster starts a 3-member cluster with data under dir (which must
// exist) and short election settings (50 ms ticks, 500 ms elections, so
// 1 s is the shortest lease). The caller must Close it.
func StartCluster(dir string) (*EmbeddedCluster, error) {
	ec := &EmbeddedCluster{peer: make([]*tcpproxy.Proxy, 3), client: make([]*tcpproxy.Proxy, 3)}
	front := func(list []*tcpproxy.Proxy) func(int, string) (string, error) {
		return func(i int, backend string) (string, error) {
			p, err := tcpproxy.Listen("127.0.0.1:0", backend)
			if err != nil {
				return "", err
			}
			ec.mu.Lock()
			list[i] = p
			ec.proxies = append(ec.proxies, p)
			ec.mu.Unlock()
			return p.Addr().String(), nil
		}
	}
	c, err := etcdtest.Start(etcdtest.Config{Members: 3, Dir: dir, PeerFront: front(ec.peer), ClientFront: front(ec.client)})
	if err != nil {
		ec.closeProxies()
		return nil, err
	}
	ec.c = c
	return ec, nil
}

// Env returns the environment for Run: the proxied client endpoints and
// this cluster's control.
func (ec *EmbeddedCluster) Env() Env { return Env{Endpoints: ec.c.Endpoints(), Cluster: ec} }

// Size returns 3.
func (ec *EmbeddedCluster) Size() int { return ec.c.Size() }

// Leader returns the leader's member index.
func (ec *EmbeddedCluster) Leader(ctx context.Context) (int, error) { return ec.c.Leader(ctx) }

// Kill stops member i abruptly.
func (ec *EmbeddedCluster) Kill(i int) { ec.c.Kill(i) }

// Restart starts member i again from its data.
func (ec *EmbeddedCluster) Restart(i int) error { return ec.c.Restart(i) }

// PeerProxy returns the proxy in front of member i's peer listener.
func (ec *EmbeddedCluster) PeerProxy(i int) *tcpproxy.Proxy { return ec.peer[i] }

// ClientProxy returns the proxy in front of member i's client listener.
func (ec *EmbeddedCluster) ClientProxy(i int) *tcpproxy.Proxy { return ec.client[i] }

// Heal clears every toxic and restarts stopped members.
func (ec *EmbeddedCluster) Heal() error {
	var errs []error
	for _, p := range ec.proxies {
		p.Clear()
	}
	for i := range ec.c.Size() {
		if !ec.c.Running(i) {
			errs = append(errs, ec.c.Restart(i))
		}
	}
	return errors.Join(errs...)
}

// Close stops the members, then the proxies, and waits for all of them.
func (ec *EmbeddedCluster) Close() {
	if ec.c != nil {
		ec.c.Close()
	}
	ec.closeProxies()
}

func (ec *EmbeddedCluster) closeProxies() {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	for _, p := range ec.proxies {
		p.Close()
	}
}
