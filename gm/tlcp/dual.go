package tlcp

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// DualConfig configures a listener that serves TLCP and TLS on one port.
type DualConfig struct {
	// TLCP is the configuration of TLCP connections; it must hold the
	// signing and encryption certificates.
	TLCP *Config
	// TLS is the configuration of TLS connections (crypto/tls).
	TLS *tls.Config
	// HelloTimeout bounds how long a new connection may take to send the
	// first three bytes of its ClientHello, which tell the protocols
	// apart; 0 means 10 seconds. A connection that does not is closed.
	HelloTimeout time.Duration
}

// NewDualListener returns a listener that serves TLCP and TLS on inner's
// port, as Tongsuo's NTLS mode and gotlcp's protocol adapter do. It reads
// the record header of each connection's first record: version major 1
// (TLCP's 0x0101) makes a *Conn, anything else a *tls.Conn (which refuses
// what is not TLS). Accept returns connections in the order they were told
// apart, so a slow client does not hold up the others; each connection's
// handshake still runs on its first Read or Write. Close closes inner and
// the connections not yet accepted, and waits for the goroutines it
// started.
func NewDualListener(inner net.Listener, cfg DualConfig) (net.Listener, error) {
	if cfg.TLCP == nil || cfg.TLS == nil {
		return nil, errors.New("tlcp: a dual listener needs a TLCP and a TLS configuration")
	}
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = 10 * time.Second
	}
	l := &dualListener{
		inner:   inner,
		cfg:     cfg,
		ready:   make(chan net.Conn),
		done:    make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

type dualListener struct {
	inner net.Listener
	cfg   DualConfig
	ready chan net.Conn // told-apart connections for Accept
	done  chan struct{} // closed by Close
	once  sync.Once
	wg    sync.WaitGroup // acceptLoop and the sniffers

	mu      sync.Mutex            // guards the fields below
	pending map[net.Conn]struct{} // connections being told apart
	err     error                 // why acceptLoop stopped
}

func (l *dualListener) acceptLoop() {
	defer l.wg.Done()
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
				l.once.Do(func() { close(l.done) })
				return
			}
			// Out of file descriptors and the like: wait and retry,
			// as net/http's Server does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(delay):
			case <-l.done:
				return
			}
			continue
		}
		delay = 0
		l.mu.Lock()
		l.pending[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go l.sniff(c)
	}
}

func (l *dualListener) sniff(c net.Conn) {
	defer l.wg.Done()
	var hdr [3]byte
	c.SetReadDeadline(time.Now().Add(l.cfg.HelloTimeout))
	_, err := io.ReadFull(c, hdr[:])
	c.SetReadDeadline(time.Time{})
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	pc := &prefixConn{Conn: c, prefix: hdr[:]}
	var out net.Conn
	if hdr[0] == byte(recordTypeHandshake) && hdr[1] == 0x01 {
		out = Server(pc, l.cfg.TLCP)
	} else {
		out = tls.Server(pc, l.cfg.TLS)
	}
	select {
	case l.ready <- out:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next connection told apart, a *Conn or a *tls.Conn.
func (l *dualListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

func (l *dualListener) Close() error {
	var err error
	l.once.Do(func() { close(l.done) })
	err = l.inner.Close()
	l.mu.Lock()
	for c := range l.pending {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil // closed already, by acceptLoop's inner error
	}
	return err
}

func (l *dualListener) Addr() net.Addr { return l.inner.Addr() }

// prefixConn gives back the bytes read to tell the protocols apart.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
