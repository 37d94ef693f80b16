package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrClientIdle is returned, wrapped, by [Body.Read] when the client sent
// nothing for the body's idle limit: the client is too slow, and the failed
// attempt says nothing about the upstream.
var ErrClientIdle = errors.New("proxy: client request body idle")

// errAttemptOver is what an attempt's reads of a [Body] return once that
// attempt's transport has closed it.
var errAttemptOver = errors.New("proxy: request body closed by its attempt")

// Body wraps a client request body so that it can be offered to several
// attempts and so that a failure reading it is told apart from an upstream
// failure. Touched says whether any attempt read from it, after which
// another attempt cannot resend it; Err says whether reading the client
// failed. [Forwarder.Outbound] hands each attempt its own view of the body,
// whose Close ends that attempt's reads (see Outbound). A Body is read by
// one attempt at a time; its other methods are safe for concurrent use.
type Body struct {
	rc      io.ReadCloser
	touched atomic.Bool
	failed  atomic.Bool // err is set; read without the lock on the fast path
	idle    time.Duration
	dl      readDeadliner // non-nil: interrupt a read with a past deadline, not Close

	mu      sync.Mutex // guards the fields below
	err     error      // the first error other than io.EOF
	timer   *time.Timer
	started time.Time    // when the current read began
	reader  *attemptBody // the attempt whose read is waiting for the client; nil if none
	reading bool         // a read is waiting for the client
	fired   bool         // the idle limit interrupted a read
	kept    []byte       // what was read, while it stays within keep
	keep    int          // the most kept; 0: ReplayLimit
	readN   int          // bytes read from the client so far
	over    bool         // more than ReplayLimit was read: kept is dropped
	eof     bool         // the client body was read to its end
	onEnd   func()       // called when an attempt's view reaches the end
}

// ReplayLimit is the most of a request body a [Body] keeps so that a
// request whose body was read whole can be sent again (a retry after the
// instance answered UNAVAILABLE, say). Larger bodies stream and are sent
// once. Envoy keeps up to its per-connection buffer limit (1 MiB) for the
// same purpose; a gateway of many small calls needs far less.
const ReplayLimit = 64 << 10

// errNotReplayable is what a second attempt's reads return when the body
// was not kept whole.
var errNotReplayable = errors.New("proxy: request body was not kept and cannot be sent again")

// readDeadliner is a client body whose reads can be given a deadline, as
// [WithReadDeadline] returns.
type readDeadliner interface {
	SetReadDeadline(time.Time) error
}

// OnEnd sets a function called (on the reading goroutine) each time an
// attempt's view of the body reaches its end: the request has then been
// sent whole. Set it before the first attempt.
func (b *Body) OnEnd(f func()) { b.onEnd = f }

// Replayable reports whether the body can be sent again by another
// attempt: nothing was read yet, or it was read whole and kept. A nil Body
// is always replayable.
func (b *Body) Replayable() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readN == 0 && !b.eof || b.eof && !b.over && b.err == nil
}

// NewBody wraps rc; nil or http.NoBody give nil (no body to track).
//
// idle > 0 bounds each read: a read that waits longer than idle for the
// client fails with an error wrapping [ErrClientIdle], and so do the reads
// after it. The read is interrupted through rc's read deadline when rc
// comes from [WithReadDeadline], and by closing rc otherwise, which ends a
// waiting HTTP/2 read but not an HTTP/1.1 one (net/http's HTTP/1.1 body
// holds a lock while it reads): pass an HTTP/1.1 body through
// WithReadDeadline. idle 0 means no limit.
func NewBody(rc io.ReadCloser, idle time.Duration) *Body {
	if rc == nil || rc == http.NoBody {
		return nil
	}
	b := &Body{rc: rc, idle: idle}
	if d, ok := rc.(readDeadliner); ok {
		b.dl = d
	}
	return b
}

// Read reads from the client body and marks it touched. Reading the Body
// itself rather than an attempt's view of it is for callers outside
// [Forwarder.Outbound].
func (b *Body) Read(p []byte) (int, error) { return b.read(nil, p) }

func (b *Body) read(a *attemptBody, p []byte) (int, error) {
	b.mu.Lock()
	b.touched.Store(true)
	switch {
	case b.fired:
		b.mu.Unlock()
		return 0, b.idleErr()
	case a != nil && a.over:
		b.mu.Unlock()
		return 0, errAttemptOver
	case a != nil && a.pos < len(b.kept): // a later attempt: what was kept first
		n := copy(p, b.kept[a.pos:])
		a.pos += n
		b.mu.Unlock()
		return n, nil
	case a != nil && a.pos != b.readN:
		b.mu.Unlock()
		return 0, errNotReplayable
	case b.eof:
		end := b.onEnd
		b.mu.Unlock()
		if end != nil {
			end()
		}
		return 0, io.EOF
	}
	b.reader, b.reading = a, true
	if b.idle > 0 {
		b.started = time.Now()
		if b.timer == nil {
			b.timer = time.AfterFunc(b.idle, b.expire)
		} else {
			b.timer.Reset(b.idle)
		}
	}
	b.mu.Unlock()

	n, err := b.rc.Read(p)

	b.mu.Lock()
	b.reader, b.reading = nil, false
	if b.timer != nil {
		b.timer.Stop()
	}
	if n > 0 {
		b.readN += n
		if a != nil {
			a.pos += n
		}
		if !b.over && len(b.kept)+n <= max(b.keep, ReplayLimit) {
			b.kept = append(b.kept, p[:n]...)
		} else {
			b.over, b.kept = true, nil
		}
	}
	if err == io.EOF {
		b.eof = true
		end := b.onEnd
		b.mu.Unlock()
		if end != nil {
			end()
		}
		return n, err
	}
	defer b.mu.Unlock()
	switch {
	case err == nil:
		return n, err
	case b.fired:
		err = b.idleErr()
	case a != nil && a.over:
		return n, errAttemptOver // interrupted by the attempt's own Close
	}
	if b.err == nil {
		b.err = err
		b.failed.Store(true)
	}
	return n, err
}

func (b *Body) idleErr() error {
	return fmt.Errorf("%w: nothing received for %v", ErrClientIdle, b.idle)
}

// expire runs when a read has waited for the idle limit: it interrupts the
// read. A stale run, left from an earlier read whose timer fired as that
// read returned, finds the current read younger than the limit and leaves
// it alone: the timer was reset for it.
func (b *Body) expire() {
	b.mu.Lock()
	if !b.reading || b.fired || time.Since(b.started) < b.idle {
		b.mu.Unlock()
		return
	}
	b.fired = true
	b.mu.Unlock()
	b.interrupt()
}

// interrupt makes the waiting client read return. An interrupted body
// cannot be read again.
func (b *Body) interrupt() {
	if b.dl != nil {
		// A deadline in the past fails the waiting read at once.
		b.dl.SetReadDeadline(time.Unix(1, 0))
		return
	}
	b.rc.Close()
}

// Buffer reads the client body ahead of any attempt, until it ends or more
// than limit bytes came, and reports whether it ended within limit. What
// was read is kept and handed to the attempts first, so that a body read
// whole can be sent to any number of them ([Body.Replayable]); a longer
// one streams on from where Buffer stopped. It blocks while the client
// sends, each read bounded by the body's idle limit. A failed read is the
// body's [Body.Err], as for an attempt's read. Call it before the first
// attempt, once.
func (b *Body) Buffer(limit int) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	b.keep = max(b.keep, limit+1)
	b.mu.Unlock()
	p := make([]byte, min(bufSize, limit+1))
	for got := 0; got <= limit; {
		n, err := b.read(nil, p[:min(len(p), limit+1-got)])
		got += n
		if err == io.EOF {
			return got <= limit
		}
		if err != nil {
			return false
		}
	}
	return false
}

// Close does nothing: the server closes the client body when the handler
// returns, and an attempt's transport closes only its own view.
func (b *Body) Close() error { return nil }

// Touched reports whether an attempt has read from the body. A nil Body is
// never touched.
func (b *Body) Touched() bool { return b != nil && b.touched.Load() }

// Err returns the first error other than io.EOF that reading the client
// body produced — malformed chunked framing, the connection gone, an
// *http.MaxBytesError, the idle limit — or nil if none (nil for a nil
// Body). A round trip that failed while Err is non-nil failed because of
// the client; [ClientBodyStatus] gives the status to log or answer with.
// A read that an attempt's Close interrupted is no client failure.
func (b *Body) Err() error {
	if b == nil || !b.failed.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// attemptBody is one attempt's view of a Body, the request body its
// transport reads and closes.
type attemptBody struct {
	b    *Body
	over bool // guarded by b.mu: the transport closed it
	pos  int  // guarded by b.mu: bytes of the body this view has read
	// in is the client request, whose Trailer the server sets as the
	// body ends (on the goroutine reading it); trailer the attempt's,
	// which the transport sends after the body. nil: no trailers.
	in      *http.Request
	trailer http.Header
}

func (a *attemptBody) Read(p []byte) (int, error) {
	n, err := a.b.read(a, p)
	if err == io.EOF && a.trailer != nil {
		copyTrailers(a.trailer, a.in.Trailer)
	}
	return n, err
}

// Close ends this attempt's reads: later ones fail, and one waiting for the
// client is interrupted. Another attempt's view is not affected, so an
// unread body can still be sent elsewhere. net/http's HTTP/2 transport closes the request body
// when the response ends or breaks before the request body was all sent,
// and waits for its read to return before the response body's Close does:
// a client that keeps its stream open, as a gRPC streaming client does,
// would otherwise hold the response, and the handler, forever.
func (a *attemptBody) Close() error {
	b := a.b
	b.mu.Lock()
	a.over = true
	interrupt := b.reading && b.reader == a && !b.fired
	b.mu.Unlock()
	if interrupt {
		b.interrupt()
	}
	return nil
}

// WithReadDeadline returns rc (a request body being served through w) in a
// form whose reads [NewBody]'s idle limit can interrupt on any protocol, by
// setting the read deadline of w's connection (HTTP/1.1) or stream (HTTP/2)
// through [http.ResponseController]. The deadline is only ever set once the
// limit has passed, after which the connection cannot be read again; reads
// that stay within the limit cost nothing extra.
func WithReadDeadline(w http.ResponseWriter, rc io.ReadCloser) io.ReadCloser {
	if rc == nil || rc == http.NoBody {
		return rc
	}
	return deadlineBody{rc, http.NewResponseController(w)}
}

type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (d deadlineBody) SetReadDeadline(t time.Time) error { return d.rc.SetReadDeadline(t) }

// StatusClientClosedRequest is the status logged when the client went away
// before its request was complete (nginx's 499; no client sees it).
const StatusClientClosedRequest = 499

// ClientBodyStatus returns the HTTP status for a failure reading the client
// body, as [Body.Err] returns it:
//   - 413 Content Too Large for an *http.MaxBytesError;
//   - 408 Request Timeout for [ErrClientIdle], or a read deadline passed
//     (http.Server.ReadTimeout);
//   - 499 ([StatusClientClosedRequest]) when the client's connection or
//     stream is gone: the body ended early (io.ErrUnexpectedEOF — a
//     client that closes its side mid-body is indistinguishable from one
//     that crashed, and it will not read an answer either way), the
//     request was cancelled, the connection was reset or closed, or the
//     client reset its HTTP/2 stream;
//   - 400 Bad Request otherwise: the body's framing was malformed (a
//     chunk size "zz", a bad chunk terminator).
//
// A nil err gives 0: nothing went wrong with the client.
func ClientBodyStatus(err error) int {
	var tooBig *http.MaxBytesError
	var ne net.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrClientIdle), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return http.StatusRequestTimeout
	case clientGone(err):
		return StatusClientClosedRequest
	}
	return http.StatusBadRequest
}

func clientGone(err error) bool {
	var op *net.OpError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.As(err, &op):
		return true
	}
	// net/http's HTTP/2 server reports a client that reset its stream or
	// dropped its connection with unexported errors only
	// (http2StreamError, http2errClientDisconnected): their text is all
	// there is to go on. TestClientBodyStatusHTTP2Reset pins it.
	msg := err.Error()
	return strings.Contains(msg, "client disconnected") || strings.Contains(msg, "stream error: ")
}
