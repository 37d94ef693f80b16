// Package connlimit bounds the connections a listener holds open and keeps
// its accept loop alive when the process runs out of file descriptors.
//
//	ln = connlimit.New(ln, connlimit.Config{Max: 1000, OnRefuse: refused.Inc})
//	srv.Serve(ln)
//
// A connection beyond Max is accepted and closed at once, so that the
// client learns it was refused instead of waiting in the kernel's backlog;
// the listener keeps accepting. An accept that fails for want of file
// descriptors (EMFILE, ENFILE) or kernel buffers is retried after a pause
// that doubles from 5ms to 1s, as net/http's server does for the errors it
// calls temporary, so that the loop neither spins nor stops, and every
// connection that is closed makes room for the next.
package connlimit

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a [Listener]. The zero value accepts without a cap.
type Config struct {
	// Max is the most connections open at once; 0 or negative: no cap.
	Max int
	// OnRefuse, if set, is called for each connection closed because Max
	// was reached. It must not block.
	OnRefuse func()
	// OnAcceptError, if set, is called for each failed accept that is
	// retried, with the error and the pause before the retry. It must not
	// block.
	OnAcceptError func(err error, pause time.Duration)
}

// Listener is a net.Listener with the limits of its [Config]. Its methods
// are safe for concurrent use.
type Listener struct {
	net.Listener
	cfg  Config
	open atomic.Int64

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: a pause ends
}

// New returns ln with the limits of cfg.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, closed: make(chan struct{})}
}

// Pauses between retries of a failed accept.
const (
	minPause = 5 * time.Millisecond
	maxPause = time.Second
)

// Accept waits for the next connection within the cap. It returns an error
// only when the listener is closed or fails in a way a retry cannot mend.
func (l *Listener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !Retryable(err) {
				return nil, err
			}
			pause = min(max(2*pause, minPause), maxPause)
			if l.cfg.OnAcceptError != nil {
				l.cfg.OnAcceptError(err, pause)
			}
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		pause = 0
		if n := l.open.Add(1); l.cfg.Max > 0 && n > int64(l.cfg.Max) {
			l.open.Add(-1)
			c.Close()
			if l.cfg.OnRefuse != nil {
				l.cfg.OnRefuse()
			}
			continue
		}
		return &conn{Conn: c, l: l}, nil
	}
}

// Open returns the number of connections accepted and not closed yet.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Close closes the listener and ends a pause between retries; open
// connections stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Retryable reports whether a failed accept may succeed later: the process
// or the system is out of file descriptors (EMFILE, ENFILE) or of buffers
// (ENOBUFS, ENOMEM), or the connection was reset before it was accepted.
func Retryable(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// conn gives its slot back when closed, once.
type conn struct {
	net.Conn
	l    *Listener
	done atomic.Bool
}

func (c *conn) Close() error {
	if c.done.CompareAndSwap(false, true) {
		c.l.open.Add(-1)
	}
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection, as net/http does before it
// closes one on which it answered an error.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
