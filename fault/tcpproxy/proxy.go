package tcpproxy

import (
	"context"
	"errors"
	"fmt"
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
	p.toxics.Store(newSnapshot(nil, time.Now(), nil))
	p.wg.Add(1)
	go p.acceptLoop(tl)
	return p, nil
}

// Addr returns the address the proxy listens on. It does not change, even
// across [Proxy.Refuse].
func (p *Proxy) Addr() net.Addr { return p.addr }

// Upstream returns the upstream address given to [Listen].
func (p *Proxy) Upstream() string { return p.upstream }

// Set adds the toxic under name in direction dir, replacing any toxic of the
// same name. It returns an error wrapping [ErrInvalidToxic] for an invalid
// toxic or direction; the previous toxics then stay in force.
func (p *Proxy) Set(name string, dir Direction, t Toxic) error {
	if name == "" {
		return fmt.Errorf("tcpproxy: empty toxic name: %w", ErrInvalidToxic)
	}
	if dir == 0 || dir&^Both != 0 {
		return fmt.Errorf("tcpproxy: toxic %q: direction %d: %w", name, dir, ErrInvalidToxic)
	}
	if t == nil {
		return fmt.Errorf("tcpproxy: toxic %q: nil: %w", name, ErrInvalidToxic)
	}
	if err := t.validate(); err != nil {
		return fmt.Errorf("toxic %q: %w", name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	old := p.toxics.Load()
	named := slices.DeleteFunc(slices.Clone(old.named), func(n Named) bool { return n.Name == name })
	named = append(named, Named{Name: name, Direction: dir, Toxic: t})
	p.publish(named)
	return nil
}

// Remove removes the toxic called name, or returns [ErrNoToxic].
func (p *Proxy) Remove(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.toxics.Load()
	i := slices.IndexFunc(old.named, func(n Named) bool { return n.Name == name })
	if i < 0 {
		return fmt.Errorf("remove %q: %w", name, ErrNoToxic)
	}
	p.publish(slices.Delete(slices.Clone(old.named), i, i+1))
	return nil
}

// Clear removes every toxic (Toxiproxy's /reset). It does not change
// [Proxy.Refuse].
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.publish(nil)
}

// Toxics returns the toxics in force, in the order they were first set.
func (p *Proxy) Toxics() []Named { return slices.Clone(p.toxics.Load().named) }

// publish swaps in a snapshot built from named and wakes every goroutine
// waiting on the old one. p.mu must be held.
func (p *Proxy) publish(named []Named) {
	old := p.toxics.Load()
	p.toxics.Store(newSnapshot(named, time.Now(), old))
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
		c := &conn{p: p, client: cc, start: time.Now(), done: make(chan struct{})}
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
