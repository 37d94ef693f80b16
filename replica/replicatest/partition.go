// Package replicatest helps test code that runs [replica] stores: a
// transport that wraps memberlist's real UDP/TCP transport on loopback and
// drops everything between sites that a test has cut apart.
//
// This is a fault injector, not a fake: packets and streams that are not
// cut travel over real sockets.
//
//	p := replicatest.NewPartition()
//	tr, _ := replicatest.NewTransport(p)
//	cfg := replica.Config{Name: "a", Dir: dir, BindAddr: "127.0.0.1", Transport: tr}
//	...
//	p.Isolate(tr.Addr(), otherAddrs...) // partition
//	p.HealAll()                          // heal
package replicatest

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrCut is returned when dialling across a cut link.
var ErrCut = errors.New("replicatest: link cut by partition")

// Partition is a set of cut links between addresses ("host:port"), shared
// by the transports of the stores under test. Links are symmetric. The
// zero value cuts nothing; it is safe for concurrent use.
type Partition struct {
	mu        sync.RWMutex
	cut       map[[2]string]bool // guarded by mu; both orders stored, or one for a one-way cut
	blackhole map[[2]string]bool // guarded by mu; both orders stored
	hold      map[[2]string]bool // guarded by mu; both orders stored
	healed    chan struct{}      // guarded by mu; closed (and replaced) by HealAll
	held      atomic.Int64       // dials hanging in a Hold
}

// NewPartition returns a Partition with no cut links.
func NewPartition() *Partition { return &Partition{} }

// Cut cuts the link between a and b.
func (p *Partition) Cut(a, b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == nil {
		p.cut = make(map[[2]string]bool)
	}
	p.cut[[2]string{a, b}] = true
	p.cut[[2]string{b, a}] = true
}

// Blackhole makes the link between a and b swallow traffic: packets are
// dropped and dials hang for their whole timeout before failing, as with a
// firewall that drops rather than rejects. Heal it with HealAll.
func (p *Partition) Blackhole(a, b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blackhole == nil {
		p.blackhole = make(map[[2]string]bool)
	}
	p.blackhole[[2]string{a, b}] = true
	p.blackhole[[2]string{b, a}] = true
}

func (p *Partition) blackholed(a, b string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.blackhole[[2]string{a, b}]
}

// CutOneWay cuts traffic from a to b only: a's packets to b are dropped
// and its dials to b fail, while b still reaches a (an outbound firewall
// rule, a broken return route).
func (p *Partition) CutOneWay(a, b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut == nil {
		p.cut = make(map[[2]string]bool)
	}
	p.cut[[2]string{a, b}] = true
}

// Hold makes the link between a and b swallow traffic like Blackhole, but
// a dial across it hangs, whatever its timeout, until HealAll or until the
// dialling transport shuts down, and then fails. Tests use it to keep an
// attempt to reach a peer pending for as long as they need; [Partition.Held]
// counts the dials hanging.
func (p *Partition) Hold(a, b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hold == nil {
		p.hold = make(map[[2]string]bool)
	}
	p.hold[[2]string{a, b}] = true
	p.hold[[2]string{b, a}] = true
}

// Held returns the number of dials hanging in a Hold.
func (p *Partition) Held() int { return int(p.held.Load()) }

// holding returns, if the link from a to b is held, the channel HealAll
// closes.
func (p *Partition) holding(a, b string) (<-chan struct{}, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hold[[2]string{a, b}] {
		return nil, false
	}
	if p.healed == nil {
		p.healed = make(chan struct{})
	}
	return p.healed, true
}

// Isolate cuts the links between a and each of others.
func (p *Partition) Isolate(a string, others ...string) {
	for _, o := range others {
		p.Cut(a, o)
	}
}

// HealAll restores every link.
func (p *Partition) HealAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.cut)
	clear(p.blackhole)
	clear(p.hold)
	if p.healed != nil {
		close(p.healed)
		p.healed = nil
	}
}

// Blocked reports whether the link from a to b is cut, blackholed or held.
func (p *Partition) Blocked(a, b string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cut[[2]string{a, b}] || p.blackhole[[2]string{a, b}] || p.hold[[2]string{a, b}]
}

// Transport is memberlist's NetTransport on an ephemeral loopback port,
// consulting a Partition before every packet and dial. Cut packets are
// dropped silently, as a network would; cut dials fail with [ErrCut].
type Transport struct {
	*memberlist.NetTransport
	addr     string
	p        *Partition
	done     chan struct{} // closed by Shutdown: held dials give up
	shutdown sync.Once
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// NewTransport listens on 127.0.0.1 on a free port. Pass it as
// replica.Config.Transport with BindAddr "127.0.0.1"; the store's Close
// shuts it down.
func NewTransport(p *Partition) (*Transport, error) { return NewTransportAt(p, 0) }

// NewTransportAt listens on 127.0.0.1:port (0: a free port). Tests that
// restart a store reopen its transport at the port it had, as a site
// restarts at its configured address.
func NewTransportAt(p *Partition, port int) (*Transport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  port,
		Logger:    log.New(io.Discard, "", 0),
	})
	if err != nil {
		return nil, fmt.Errorf("replicatest: listen on port %d: %w", port, err)
	}
	return &Transport{NetTransport: nt, addr: fmt.Sprintf("127.0.0.1:%d", nt.GetAutoBindPort()), p: p, done: make(chan struct{})}, nil
}

// Port returns the port the transport listens on.
func (t *Transport) Port() int { return t.GetAutoBindPort() }

// Shutdown releases the transport's dials hanging in a Hold or a
// Blackhole and shuts the real transport down.
func (t *Transport) Shutdown() error {
	t.shutdown.Do(func() { close(t.done) })
	return t.NetTransport.Shutdown()
}

// Addr returns the transport's "127.0.0.1:port", the address a Partition
// names it by.
func (t *Transport) Addr() string { return t.addr }

// WriteTo sends a packet unless the link to addr is cut.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.p.Blocked(t.addr, addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteTo(b, addr)
}

// WriteToAddress sends a packet unless the link to a is cut.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.p.Blocked(t.addr, a.Addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteToAddress(b, a)
}

// DialTimeout dials addr unless the link is cut (fails at once) or
// blackholed (fails after timeout).
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if err := t.refuse(addr, timeout); err != nil {
		return nil, err
	}
	return t.NetTransport.DialTimeout(addr, timeout)
}

// DialAddressTimeout dials a unless the link is cut or blackholed.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if err := t.refuse(a.Addr, timeout); err != nil {
		return nil, err
	}
	return t.NetTransport.DialAddressTimeout(a, timeout)
}

// ErrTimeout is returned when dialling across a blackholed link, after the
// dial's timeout.
var ErrTimeout = errors.New("replicatest: dial timed out in a blackhole")

func (t *Transport) refuse(addr string, timeout time.Duration) error {
	if healed, ok := t.p.holding(t.addr, addr); ok {
		t.p.held.Add(1)
		defer t.p.held.Add(-1)
		select {
		case <-healed:
		case <-t.done:
		}
		return fmt.Errorf("dial %s: %w", addr, ErrTimeout)
	}
	if t.p.blackholed(t.addr, addr) {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-t.done: // shut down: a real dial would go on, but nobody waits for it
		}
		return fmt.Errorf("dial %s: %w", addr, ErrTimeout)
	}
	if t.p.Blocked(t.addr, addr) {
		return fmt.Errorf("dial %s: %w", addr, ErrCut)
	}
	return nil
}
