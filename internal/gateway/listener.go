package gateway

import (
	"net"
	"net/http"
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
// capped (connlimit) and, unless it serves TLS, each one's HTTP/1.x
// framing checked.
type clientListener struct {
	*connlimit.Listener
	maxHead int // max_header_bytes; 0: no framing check
}

func (l *clientListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.maxHead == 0 {
		return c, err
	}
	return newFramingConn(c, l.maxHead), nil
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
	if lc.TLS == nil {
		cl.maxHead = int(lc.MaxHeaderBytes)
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
		if fc, ok := c.(*framingConn); ok {
			fc.endChecks()
		}
	}
}
