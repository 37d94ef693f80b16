package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/connlimit"
)

// The client side of a listener: how many connections it holds, what it
// does when the process runs out of file descriptors, and the framing
// check of its HTTP/1.x requests (framing.go).

// fdReserve is what an automatic max_connections leaves of the process's
// open-file limit for everything but client connections: the admin
// listener's budget (telemetry.AdminMaxConnections, 256), discovery,
// probes, logs and files. The rest is halved, since a client connection
// being proxied holds an upstream connection too, and shared among the
// listeners left automatic.
const fdReserve = 512

// minAutoConnections is the least an automatic max_connections gives a
// listener, however low the open-file limit.
const minAutoConnections = 64

// maxConnections returns each listener's cap on open connections: its
// max_connections, or, where that is 0, a share of nofile (the process's
// open-file limit; 0 when unknown, which leaves such listeners uncapped).
func maxConnections(ls []config.Listener, nofile uint64) []int {
	auto := 0
	for _, lc := range ls {
		if lc.MaxConnections == 0 {
			auto++
		}
	}
	caps := make([]int, len(ls))
	for i, lc := range ls {
		switch {
		case lc.MaxConnections > 0:
			caps[i] = lc.MaxConnections
		case nofile == 0:
			caps[i] = 0
		default:
			share := 0
			if nofile > fdReserve {
				share = int((nofile-fdReserve)/2) / auto
			}
			caps[i] = max(share, minAutoConnections)
		}
	}
	return caps
}

// openFileLimit is the process's soft RLIMIT_NOFILE (which the Go runtime
// raises to the hard limit at start), or 0 when it cannot be read.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == ^uint64(0) {
		return 0
	}
	return rl.Cur
}

// clientListener is a listener as the gateway serves it: connections
// capped (connlimit) and, unless it serves TLS (tlsListener then checks
// above it), each one's HTTP/1.x framing checked.
type clientListener struct {
	*connlimit.Listener
	maxHead int                // max_header_bytes; 0: no framing check
	refused interface{ Inc() } // requests the framing check refused
}

func (l *clientListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.maxHead == 0 {
		return c, err
	}
	return newFramingConn(c, l.maxHead, l.refused), nil
}

// newClientListener wraps ln, the listener lc binds. Refused connections
// and failed accepts are counted; the failed accepts are logged at most
// once every acceptLogEvery, with how many there were.
func (g *Gateway) newClientListener(ln net.Listener, lc config.Listener, limit int) *clientListener {
	refused := g.m.refused.WithLabelValues(lc.Name, "max_connections")
	acceptErrs := g.m.acceptErrors.WithLabelValues(lc.Name)
	var last atomic.Int64     // unix nanoseconds of the last log
	var unlogged atomic.Int64 // failed accepts since
	cl := &clientListener{Listener: connlimit.New(ln, connlimit.Config{
		Max:      limit,
		OnRefuse: refused.Inc,
		OnAcceptError: func(err error, pause time.Duration) {
			acceptErrs.Inc()
			n := unlogged.Add(1)
			now := time.Now().UnixNano()
			if l := last.Load(); now-l >= int64(acceptLogEvery) && last.CompareAndSwap(l, now) {
				unlogged.Add(-n)
				g.log.Warn("accept failed; retrying", "listener", lc.Name, "err", err, "pause", pause, "failures", n)
			}
		},
	})}
	cl.refused = g.m.framing.WithLabelValues(lc.Name)
	if lc.TLS == nil {
		cl.maxHead = int(lc.MaxHeaderBytes) // over TLS, tlsListener checks
	}
	return cl
}

// acceptLogEvery throttles the log of failed accepts.
const acceptLogEvery = 10 * time.Second

// endFramingChecks is the servers' ConnState hook's part for framing: a
// connection taken over for a tunnel (101 Switching Protocols) carries
// another protocol from then on.
func endFramingChecks(c net.Conn, st http.ConnState) {
	if st == http.StateHijacked {
		if fc, ok := c.(interface{ endChecks() }); ok { // *framingConn, *tlsFramingConn
			fc.endChecks()
		}
	}
}

// tlsListener makes the TLS handshakes of a listener itself, each on a
// goroutine of its own, so that the HTTP/1.1 connections can have their
// framing checked on the decrypted bytes: net/http's ServeTLS would hand
// the server the *tls.Conn alone. An h2 connection (by ALPN) is handed
// over as the *tls.Conn, which net/http serves as HTTP/2; an HTTP/1.x one
// inside a framingConn, whose TLS state the server does not see, so
// ConnContext passes it to the handler (tlsStateOf). Close stops the
// handshakes and waits for them.
type tlsListener struct {
	net.Listener // the TCP side, connection caps included
	cfg          *tls.Config
	timeout      time.Duration // of a handshake; 0: none
	maxHead      int
	refused      interface{ Inc() }

	ready chan net.Conn   // handshaken, waiting for Accept
	errc  chan error      // the TCP side's Accept failed
	ctx   context.Context // ended by Close: handshakes stop
	stop  context.CancelFunc
	wg    sync.WaitGroup // the accept loop and the handshakes
	once  sync.Once
}

func newTLSListener(ln *clientListener, cfg *tls.Config, timeout time.Duration, maxHead int) *tlsListener {
	l := &tlsListener{Listener: ln, cfg: cfg, timeout: timeout, maxHead: maxHead, refused: ln.refused, ready: make(chan net.Conn), errc: make(chan error, 1)}
	l.ctx, l.stop = context.WithCancel(context.Background())
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *tlsListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.errc <- err
			return
		}
		l.wg.Add(1)
		go l.handshake(c)
	}
}

func (l *tlsListener) handshake(c net.Conn) {
	defer l.wg.Done()
	tc := tls.Server(c, l.cfg)
	ctx := l.ctx
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		return
	}
	var out net.Conn = tc
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		out = &tlsFramingConn{framingConn: newFramingConn(tc, l.maxHead, l.refused), tc: tc}
	}
	select {
	case l.ready <- out:
	case <-l.ctx.Done():
		out.Close()
	}
}

func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // for the next Accept too
		return nil, err
	}
}

func (l *tlsListener) Close() error {
	var err error
	l.once.Do(func() {
		err = l.Listener.Close()
		l.stop()
		l.wg.Wait()
	})
	return err
}

// tlsFramingConn is an HTTP/1.x connection over TLS with its framing
// checked.
type tlsFramingConn struct {
	*framingConn
	tc *tls.Conn
}

// tlsStateKey is the context key of a connection's TLS state.
type tlsStateKey struct{}

// connContext is the servers' ConnContext: it keeps the TLS state of an
// HTTP/1.x connection over TLS, which net/http cannot see through the
// framing check, for the requests on it.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tlsFramingConn); ok {
		st := tc.tc.ConnectionState()
		return context.WithValue(ctx, tlsStateKey{}, &st)
	}
	return ctx
}

// tlsStateOf returns the TLS state connContext kept, or nil.
func tlsStateOf(ctx context.Context) *tls.ConnectionState {
	st, _ := ctx.Value(tlsStateKey{}).(*tls.ConnectionState)
	return st
}

// serverTLSConfig is the TLS configuration of a listener: its certificate,
// TLS 1.2 and 1.3, h2 and HTTP/1.1 by ALPN.
func serverTLSConfig(t *config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}

// handshakeTimeout bounds a TLS handshake as net/http's server does: the
// shortest of the listener's read-header, read and write timeouts; 0 if
// none is set.
func handshakeTimeout(lc config.Listener) time.Duration {
	var d time.Duration
	for _, v := range []config.Duration{lc.ReadHeaderTimeout, lc.ReadTimeout, lc.WriteTimeout} {
		if v > 0 && (d == 0 || time.Duration(v) < d) {
			d = time.Duration(v)
		}
	}
	return d
}
