// Package etcdtest starts real embedded etcd clusters (1 or 3 members) on
// loopback ports for tests and for local drills, with member kill and
// restart, leader lookup and clean shutdown.
//
// It runs the real etcd server (go.etcd.io/etcd/server/v3/embed) in the
// current process; nothing is faked. Members listen on 127.0.0.1 only. A
// caller may put a front (for example a fault proxy) before each member's
// peer or client listener with [Config.PeerFront] and [Config.ClientFront]:
// the member then advertises the front's address, so all traffic into it
// passes through the front.
//
// Usage in a test:
//
//	c := etcdtest.New(t, etcdtest.Config{Members: 3})
//	cli := c.Client(t)
//	leader, _ := c.Leader(ctx)
//	c.Kill(leader) ... c.Restart(leader)
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

// Config describes a cluster to start. The zero value is a one-member
// cluster with short election settings.
type Config struct {
	// Members is the number of members: 1 or 3. Zero means 1.
	Members int
	// Dir is the parent directory of the members' data directories. Start
	// requires it; New uses t.TempDir().
	Dir string
	// TickMs is the Raft heartbeat interval. Zero means 50 ms, half etcd's
	// default, so that elections and the minimum lease TTL are short in
	// tests: the server raises any lease TTL to ceil(1.5 × ElectionMs),
	// which is 1 s with the defaults here (2 s with etcd's).
	TickMs uint
	// ElectionMs is the election timeout. Zero means 10 × TickMs.
	ElectionMs uint
	// PeerFront, if set, is called once per member with the address of the
	// member's real peer listener and returns the address other members
	// should dial instead (a proxy in front of it). Nil means direct.
	PeerFront func(member int, backend string) (front string, err error)
	// ClientFront is the same for the client listener; clients given
	// [Cluster.Endpoints] then reach the member through the front.
	ClientFront func(member int, backend string) (front string, err error)
}

// Cluster is a running embedded etcd cluster. Its methods are safe for
// concurrent use; Kill and Restart of one member must not race each other.
type Cluster struct {
	cfg     Config
	members []*member
}

type member struct {
	name      string
	dir       string
	peerURL   url.URL // real listener
	clientURL url.URL // real listener
	advPeer   url.URL // what others dial
	advClient url.URL // what clients dial

	mu   sync.Mutex // guards etcd
	etcd *embed.Etcd
}

// ErrNoLeader is returned by Leader when the running members do not agree on
// a leader before the context ends.
var ErrNoLeader = errors.New("etcdtest: no leader")

// New starts a cluster in t.TempDir() and closes it when the test ends. It
// fails the test if the cluster does not start.
func New(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	c, err := Start(cfg)
	if err != nil {
		t.Fatalf("etcdtest: start cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts a cluster as described by cfg and waits until every member is
// ready to serve. The caller must Close it.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Members == 0 {
		cfg.Members = 1
	}
	if cfg.Members != 1 && cfg.Members != 3 {
		return nil, fmt.Errorf("etcdtest: members = %d, want 1 or 3", cfg.Members)
	}
	if cfg.Dir == "" {
		return nil, errors.New("etcdtest: Config.Dir is empty")
	}
	if cfg.TickMs == 0 {
		cfg.TickMs = 50
	}
	if cfg.ElectionMs == 0 {
		cfg.ElectionMs = 10 * cfg.TickMs
	}
	c := &Cluster{cfg: cfg}
	var initial []string
	for i := range cfg.Members {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		m := &member{
			name:      fmt.Sprintf("m%d", i),
			dir:       filepath.Join(cfg.Dir, fmt.Sprintf("m%d", i)),
			peerURL:   url.URL{Scheme: "http", Host: ports[0]},
			clientURL: url.URL{Scheme: "http", Host: ports[1]},
		}
		m.advPeer, m.advClient = m.peerURL, m.clientURL
		if cfg.PeerFront != nil {
			f, err := cfg.PeerFront(i, m.peerURL.Host)
			if err != nil {
				return nil, fmt.Errorf("etcdtest: peer front of member %d: %w", i, err)
			}
			m.advPeer.Host = f
		}
		if cfg.ClientFront != nil {
			f, err := cfg.ClientFront(i, m.clientURL.Host)
			if err != nil {
				return nil, fmt.Errorf("etcdtest: client front of member %d: %w", i, err)
			}
			m.advClient.Host = f
		}
		initial = append(initial, m.name+"="+m.advPeer.String())
		c.members = append(c.members, m)
	}
	// Members of a new cluster wait for each other, so start them together.
	errs := make([]error, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() { errs[i] = m.start(cfg, strings.Join(initial, ","), "new") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (m *member) start(cfg Config, initial, state string) error {
	ec := embed.NewConfig()
	ec.Name = m.name
	ec.Dir = m.dir
	ec.ListenPeerUrls = []url.URL{m.peerURL}
	ec.AdvertisePeerUrls = []url.URL{m.advPeer}
	ec.ListenClientUrls = []url.URL{m.clientURL}
	ec.AdvertiseClientUrls = []url.URL{m.advClient}
	ec.InitialCluster = initial
	ec.InitialClusterToken = "etcdtest"
	ec.ClusterState = state
	ec.TickMs = cfg.TickMs
	ec.ElectionMs = cfg.ElectionMs
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	ec.LogLevel = "error"
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return fmt.Errorf("etcdtest: start member %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcdtest: member %s: %w", m.name, err)
	case <-time.After(30 * time.Second):
		e.Server.HardStop()
		e.Close()
		return fmt.Errorf("etcdtest: member %s not ready after 30s", m.name)
	}
	m.mu.Lock()
	m.etcd = e
	m.mu.Unlock()
	return nil
}

// freePorts picks n free loopback ports below the kernel's ephemeral range
// (Linux: 32768–60999) and frees them for etcd to bind. A port obtained by
// listening on port 0 is an ephemeral one, and between its release and
// etcd's bind any outgoing connection on the machine (other tests run in
// parallel) may be given it: that was seen as "address already in use" in
// CI. Ports below the range are handed out only to explicit binds.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("etcdtest: no free port found in 20000–32767")
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12768)))
		if err != nil {
			continue // taken; draw again
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// Size returns the number of members.
func (c *Cluster) Size() int { return len(c.members) }

// Endpoints returns the advertised client addresses of all members (through
// their client fronts, if any), in member order.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.advClient.Host
	}
	return out
}

// PeerAddr returns member i's real peer listener address (behind its front).
func (c *Cluster) PeerAddr(i int) string { return c.members[i].peerURL.Host }

// ClientAddr returns member i's real client listener address (behind its
// front).
func (c *Cluster) ClientAddr(i int) string { return c.members[i].clientURL.Host }

// NewClient returns a client for all members' endpoints. The caller closes
// it. Dials are bounded by a 5 s timeout.
func (c *Cluster) NewClient() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints(),
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// Client returns a client for all members that is closed when the test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := c.NewClient()
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Running reports whether member i is running.
func (c *Cluster) Running(i int) bool {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd != nil
}

// Leader returns the index of the member that all running members agree is
// the leader, polling until ctx ends (then ErrNoLeader).
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	for {
		if i, ok := c.leaderNow(); ok {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Cluster) leaderNow() (int, bool) {
	leader, idx := uint64(0), -1
	for i, m := range c.members {
		m.mu.Lock()
		e := m.etcd
		m.mu.Unlock()
		if e == nil {
			continue
		}
		l := uint64(e.Server.Leader())
		if l == 0 || (leader != 0 && l != leader) {
			return -1, false
		}
		leader = l
		if uint64(e.Server.MemberID()) == l {
			idx = i
		}
	}
	return idx, idx >= 0
}

// Kill stops member i abruptly, without handing over leadership, as a crash
// would (the data directory stays for Restart). Killing a stopped member is
// a no-op.
func (c *Cluster) Kill(i int) {
	m := c.members[i]
	m.mu.Lock()
	e := m.etcd
	m.etcd = nil
	m.mu.Unlock()
	if e == nil {
		return
	}
	e.Server.HardStop()
	e.Close()
}

// Restart starts member i again from its data directory and waits until it
// is ready. Restarting a running member is an error.
func (c *Cluster) Restart(i int) error {
	m := c.members[i]
	if c.Running(i) {
		return fmt.Errorf("etcdtest: member %d is running", i)
	}
	var initial []string
	for _, o := range c.members {
		initial = append(initial, o.name+"="+o.advPeer.String())
	}
	return m.start(c.cfg, strings.Join(initial, ","), "existing")
}

// Close stops every member and waits for them. It is safe to call twice.
// The data directories are left to their owner (t.TempDir removes them).
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i := range c.members {
		wg.Go(func() { c.Kill(i) })
	}
	wg.Wait()
}

// RemoveData deletes the cluster's data directories; only for callers of
// Start that made Dir themselves. The cluster must be closed.
func (c *Cluster) RemoveData() error { return os.RemoveAll(c.cfg.Dir) }

// LeakOptions returns goleak options for tests that embed etcd. They ignore
// only the net/http connection goroutines of etcd's peer transport
// (rafthttp): a closed member leaves keep-alive connections in its
// http.Transport idle pool and their server halves, which net/http ends on
// its own idle timeout. duohuo's own code does not use net/http in these
// packages, so nothing of ours can hide behind these entries.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*connReader).backgroundRead"),
	}
}
