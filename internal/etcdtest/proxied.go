package etcdtest

import (
	"errors"
	"sync"
	"testing"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// Proxied is a cluster whose members' peer and client listeners each sit
// behind a fault proxy ([tcpproxy.Proxy]), for tests and drills that inject
// network faults: partitions, latency, resets. It has the control a
// server-side fault of lock/linearize needs (it implements
// linearize.Cluster). Its methods are safe for concurrent use.
type Proxied struct {
	*Cluster
	mu      sync.Mutex // guards proxies while they are created
	peer    []*tcpproxy.Proxy
	client  []*tcpproxy.Proxy
	proxies []*tcpproxy.Proxy
}

// StartProxied starts a cluster as Start does, with a fault proxy on
// 127.0.0.1 in front of every member's peer and client listener. cfg's
// PeerFront and ClientFront must be nil: the proxies are the fronts. The
// caller must Close it.
func StartProxied(cfg Config) (*Proxied, error) {
	if cfg.PeerFront != nil || cfg.ClientFront != nil {
		return nil, errors.New("etcdtest: StartProxied sets the fronts itself; Config.PeerFront and ClientFront must be nil")
	}
	n := max(cfg.Members, 1)
	p := &Proxied{peer: make([]*tcpproxy.Proxy, n), client: make([]*tcpproxy.Proxy, n)}
	front := func(list []*tcpproxy.Proxy) func(int, string) (string, error) {
		return func(i int, backend string) (string, error) {
			if i >= len(list) {
				return "", errors.New("etcdtest: more members than proxies")
			}
			px, err := tcpproxy.Listen("127.0.0.1:0", backend)
			if err != nil {
				return "", err
			}
			p.mu.Lock()
			list[i] = px
			p.proxies = append(p.proxies, px)
			p.mu.Unlock()
			return px.Addr().String(), nil
		}
	}
	cfg.PeerFront, cfg.ClientFront = front(p.peer), front(p.client)
	c, err := Start(cfg)
	if err != nil {
		p.closeProxies()
		return nil, err
	}
	p.Cluster = c
	return p, nil
}

// NewProxied starts a proxied cluster in t.TempDir() and closes it when the
// test ends. It fails the test if the cluster does not start.
func NewProxied(t testing.TB, cfg Config) *Proxied {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	p, err := StartProxied(cfg)
	if err != nil {
		t.Fatalf("etcdtest: start proxied cluster: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// PeerProxy returns the proxy in front of member i's peer listener.
func (p *Proxied) PeerProxy(i int) *tcpproxy.Proxy { return p.peer[i] }

// ClientProxy returns the proxy in front of member i's client listener.
func (p *Proxied) ClientProxy(i int) *tcpproxy.Proxy { return p.client[i] }

// Heal clears every proxy's toxics and restarts stopped members.
func (p *Proxied) Heal() error {
	var errs []error
	p.mu.Lock()
	proxies := p.proxies
	p.mu.Unlock()
	for _, px := range proxies {
		px.Clear()
	}
	for i := range p.Size() {
		if !p.Running(i) {
			errs = append(errs, p.Restart(i))
		}
	}
	return errors.Join(errs...)
}

// Close stops the members, then the proxies, and waits for all of them. It
// is safe to call twice.
func (p *Proxied) Close() {
	if p.Cluster != nil {
		p.Cluster.Close()
	}
	p.closeProxies()
}

func (p *Proxied) closeProxies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, px := range p.proxies {
		px.Close()
	}
}
