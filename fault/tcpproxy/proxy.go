package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a TCP proxy on a local address in front of one upstream server,
// whose faults ("toxics") can be changed at run time. Every accepted
// connection is forwarded to a new connection to the upstream address.
//
// All methods are safe for concurrent use. Toxic changes apply to open
// connections as well as new ones: the data path reads an immutable snapshot
// of the toxics for every chunk it forwards.
type Proxy struct {
	upstream    string
	dialTimeout time.Duration

	ctx    context.Context // cancelled by Close: aborts dials and waits
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops and connection handlers

	toxics atomic.Pointer[snapshot]

	accepted atomic.Uint64

	mu       sync.Mutex // guards the fields below and serialises toxic changes
	addr     *net.TCPAddr
	ln       *net.TCPListener // nil while refusing
	conns    map[*conn]struct{}
	closed   bool
	closeErr error
}

// Option configures a [Proxy] at [Listen].
type Option func(*Proxy)

// WithDialTimeout bounds the dial to the upstream server for each accepted
// connection (default 5s). A connection whose dial fails is reset.
func WithDialTimeout(d time.Duration) Option {
	return func(p *Proxy) { p.dialTimeout = d }
}

// Listen starts a proxy listening on addr (e.g. "127.0.0.1:0" for an
// ephemeral port) that forwards to upstream ("host:port"). It returns once
// the proxy accepts connections. The caller must call [Proxy.Close].
func Listen(addr, upstream string, opts ...Option) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(upstream); err != nil {
		return nil, fmt.Errorf("tcpproxy: upstream %q: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tcpproxy: listen %q: %w", addr, err)
	}
	tl := ln.(*net.TCPListener)
	p := &Proxy{
		upstream:    upstream,
		dialTimeout: 5 * time.Second,
		addr:        tl.Addr().(*net.TCPAddr),
		ln:          tl,
		conns:       make(map[*conn]struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.toxics.Store(newSnapshot(nil))
	p.wg.Add(1)
	go p.acceptLoop(tl)
	return p, nil
}

// Addr returns the address the proxy listens on. It does not change, even
// across [Proxy.Refuse].
func (p *Proxy) Addr() net.Addr { return p.addr }

// Upstream returns the upstream address given to [Listen].
func (p *Proxy) Upstream() string { return p.upstream }

// Set adds the toxic under name in direction dir, for every connection,
// replacing any toxic of the same name. It returns an error wrapping
// [ErrInvalidToxic] for an invalid toxic or direction; the previous toxics
// then stay in force.
func (p *Proxy) Set(name string, dir Direction, t Toxic) error {
	return p.SetNamed(Named{Name: name, Direction: dir, Toxic: t, Toxicity: 1})
}

// SetNamed is [Proxy.Set] with a toxicity: the toxic applies to the fraction
// n.Toxicity of connections (0 means 1), drawn once per connection.
func (p *Proxy) SetNamed(n Named) error {
	if n.Name == "" {
		return fmt.Errorf("tcpproxy: empty toxic name: %w", ErrInvalidToxic)
	}
	if n.Direction == 0 || n.Direction&^Both != 0 {
		return fmt.Errorf("tcpproxy: toxic %q: direction %d: %w", n.Name, n.Direction, ErrInvalidToxic)
	}
	if n.Toxic == nil {
		return fmt.Errorf("tcpproxy: toxic %q: nil: %w", n.Name, ErrInvalidToxic)
	}
	if err := n.Toxic.validate(); err != nil {
		return fmt.Errorf("toxic %q: %w", n.Name, err)
	}
	if n.Toxicity == 0 {
		n.Toxicity = 1
	}
	if !(n.Toxicity > 0 && n.Toxicity <= 1) {
		return fmt.Errorf("tcpproxy: toxic %q: toxicity %v not in (0, 1]: %w", n.Name, n.Toxicity, ErrInvalidToxic)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	old := p.toxics.Load()
	entries := slices.DeleteFunc(slices.Clone(old.entries), func(e entry) bool { return e.Name == n.Name })
	entries = append(entries, entry{Named: n, since: time.Now(), seed: rand.Uint64()})
	p.publish(entries)
	return nil
}

// Remove removes the toxic called name, or returns [ErrNoToxic].
func (p *Proxy) Remove(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.toxics.Load()
	i := slices.IndexFunc(old.entries, func(e entry) bool { return e.Name == name })
	if i < 0 {
		return fmt.Errorf("remove %q: %w", name, ErrNoToxic)
	}
	p.publish(slices.Delete(slices.Clone(old.entries), i, i+1))
	return nil
}

// Clear removes every toxic (Toxiproxy's /reset). It does not change
// [Proxy.Refuse].
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.publish(nil)
}

// Toxics returns the toxics in force, in the order they were set.
func (p *Proxy) Toxics() []Named {
	es := p.toxics.Load().entries
	out := make([]Named, len(es))
	for i, e := range es {
		out[i] = e.Named
	}
	return out
}

// publish swaps in a snapshot of entries and wakes every goroutine waiting
// on the old one. p.mu must be held.
func (p *Proxy) publish(entries []entry) {
	old := p.toxics.Load()
	p.toxics.Store(newSnapshot(entries))
	close(old.changed)
}

// Refuse switches refusal of new connections. Refuse(true) closes the
// listening socket, so that new connections are refused by the kernel
// (ECONNREFUSED) as for a stopped server; open connections are not touched
// (use [Proxy.ResetConns] for that). Refuse(false) listens again on the same
// address. It returns an error if the
// address cannot be bound again or the proxy is closed.
func (p *Proxy) Refuse(refuse bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	switch {
	case refuse && p.ln != nil:
		err := p.ln.Close()
		p.ln = nil
		if err != nil {
			return fmt.Errorf("tcpproxy: refuse: %w", err)
		}
	case !refuse && p.ln == nil:
		ln, err := net.ListenTCP("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("tcpproxy: listen again on %v: %w", p.addr, err)
		}
		p.ln = ln
		p.wg.Add(1)
		go p.acceptLoop(ln)
	}
	return nil
}

// ResetConns resets every open connection with a TCP RST on both sides and
// returns how many there were. New connections are not affected.
func (p *Proxy) ResetConns() int {
	p.mu.Lock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.shutdown(Both)
	}
	return len(cs)
}

// Stats is a point-in-time count of a proxy's connections.
type Stats struct {
	Accepted uint64 // connections accepted since Listen
	Open     int    // connections open now
}

// Stats returns the proxy's connection counts.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Accepted: p.accepted.Load(), Open: len(p.conns)}
}

// Close stops listening, closes every open connection and waits for all of
// the proxy's goroutines to return. It is safe to call more than once; later
// calls return the first call's result.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.closeErr
	}
	p.closed = true
	p.cancel()
	if p.ln != nil {
		if err := p.ln.Close(); err != nil {
			p.closeErr = fmt.Errorf("tcpproxy: close: %w", err)
		}
		p.ln = nil
	}
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.shutdown(0)
	}
	p.wg.Wait()
	return p.closeErr
}

func (p *Proxy) acceptLoop(ln *net.TCPListener) {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		cc, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary errors (EMFILE…): back off as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-p.ctx.Done():
				return
			}
		}
		backoff = 0
		p.accepted.Add(1)
		c := &conn{p: p, client: cc, start: time.Now(), seed: rand.Uint64() | 1, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			cc.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go c.run()
	}
}

func (p *Proxy) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}
