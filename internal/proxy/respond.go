package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrUpstreamBody is returned, wrapped, by [Forwarder.Respond] when the
	// upstream broke off while the response body was being copied, after
	// the status line was sent: the client response cannot be repaired and
	// must be aborted (panic(http.ErrAbortHandler)) so that the client sees
	// a broken response rather than a clean short one.
	ErrUpstreamBody = errors.New("proxy: upstream response body broken")
	// ErrUpstreamIdle is returned by [Forwarder.Respond], wrapped together
	// with [ErrUpstreamBody], when the upstream sent no body byte for the
	// idle limit.
	ErrUpstreamIdle = errors.New("proxy: upstream response body idle")
	// ErrClientWrite is returned, wrapped, by [Forwarder.Respond] when
	// writing to the client failed, or the client went away (its request's
	// context ended) while the body was being copied: the failure says
	// nothing about the upstream.
	ErrClientWrite = errors.New("proxy: write to client")
)

// Respond writes resp to w: status, end-to-end headers, the body and
// trailers, and closes resp.Body. It returns the number of body bytes
// written. It blocks until the body is copied, the upstream or the client
// fails, or the idle limit passes; ctx ends only a tunnel.
//
//   - The status and headers are flushed at once when the body's length is
//     unknown or the response is gRPC, so that a client of a long poll or
//     of server-sent events sees them before the first body byte (a body
//     of known length carries its head with its first piece) — except for a gRPC trailers-only response (grpc-status in the
//     headers, no body), which is left for the server to send, when the
//     handler returns, as the one HEADERS frame with END_STREAM that it
//     must be.
//   - The body streams: each piece is flushed as it arrives when the
//     length is unknown or the response is gRPC.
//   - Trailers, declared or not (gRPC's grpc-status and grpc-message),
//     follow the body over HTTP/2 and chunked HTTP/1.1, less the fields a
//     trailer must not carry (RFC 9110, section 6.5.1).
//   - idle > 0: when no body byte arrives from the upstream for that long
//     (measured to within a quarter of idle, never less) — time spent
//     waiting for the client to take what was written does not count —
//     Respond stops with an error wrapping both [ErrUpstreamBody] and
//     [ErrUpstreamIdle]. idle 0 means no limit. Choose it well above the
//     longest pause a healthy upstream makes between writes, including a
//     busy host's scheduling and GC pauses: seconds, not milliseconds.
//   - A failure writing to the client, or the client going away (in's
//     context ending, which also cancels an upstream request made with
//     it), wraps [ErrClientWrite]; any other failure reading from the
//     upstream wraps [ErrUpstreamBody].
//   - An HTTP/1.1 client request with a body is switched to full duplex
//     (http.ResponseController.EnableFullDuplex): otherwise net/http would,
//     on sending the response header, read and discard the rest of the
//     client body, which the upstream may still be reading.
//   - A 101 Switching Protocols response is tunnelled both ways until
//     either side closes or ctx ends.
func (f *Forwarder) Respond(ctx context.Context, w http.ResponseWriter, in *http.Request, resp *http.Response, idle time.Duration) (int64, error) {
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return 0, f.tunnel(ctx, w, in, resp)
	}
	h := w.Header()
	copyEndToEnd(h, resp.Header)
	if f.Via != "" {
		// The protocol of the hop this response was received on: the
		// upstream's (RFC 9110, section 7.6.3).
		h[headerVia] = f.appendVia(resp.Header[headerVia], resp.ProtoMajor)
	}
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			if trailerAllowed(k) {
				names = append(names, k)
			}
		}
		h["Trailer"] = names
	}
	rc := http.NewResponseController(w)
	if in.ProtoMajor == 1 && in.Body != nil && in.Body != http.NoBody {
		rc.EnableFullDuplex() // fails only where the server has no such mode
	}
	if resp.ContentLength == 0 {
		if _, ok := resp.Header["Grpc-Status"]; ok {
			w.WriteHeader(resp.StatusCode) // trailers-only: no flush, see above
			return 0, nil
		}
	}
	w.WriteHeader(resp.StatusCode)
	// A body of known length follows its head at once in the common
	// case, and the head goes out with its first piece: flushing it alone
	// would cost a write (a system call) per response. A body of unknown
	// length (a stream, a long poll) or gRPC may not come for a long time:
	// its head goes now.
	// (gRPC answers come over HTTP/2: the common HTTP/1.1 answer with a
	// length skips the Content-Type lookup.)
	flushEach := resp.ContentLength == -1 || resp.ProtoMajor == 2 && isGRPCHeader(resp.Header)
	if flushEach {
		if err := rc.Flush(); err != nil {
			if !errors.Is(err, http.ErrNotSupported) {
				return 0, fmt.Errorf("%w: %v", ErrClientWrite, err)
			}
			flushEach = false
		}
	}
	n, err := f.copyBody(in.Context(), w, rc, resp.Body, flushEach, idle)
	if err != nil {
		return n, err
	}
	for k, vv := range resp.Trailer {
		if trailerAllowed(k) {
			h[http.TrailerPrefix+k] = vv
		}
	}
	return n, nil
}

// WriteInterim writes a 1xx interim response of the upstream (103 Early
// Hints; RFC 9110, section 15.2) to w: its end-to-end fields, w's header
// map left as it was for the final response. It carries no Via: the
// transport does not tell on which protocol an interim response came, and
// the final response has the Via. 100 Continue
// and 101 are not interim responses to forward: net/http answers Expect
// itself, and 101 is final. The caller makes sure no final response was
// written and none is being written.
func (f *Forwarder) WriteInterim(w http.ResponseWriter, code int, h http.Header) {
	if code < 102 || code > 199 {
		return
	}
	wh := w.Header()
	saved := wh.Clone()
	clear(wh)
	copyEndToEnd(wh, h)
	w.WriteHeader(code)
	clear(wh)
	for k, vv := range saved {
		wh[k] = vv
	}
}

func isGRPCHeader(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && IsGRPC(ct[0])
}

// copyBody copies src to w. client is the client request's context: when it
// is done as a read fails, the client went away and its cancellation
// reached the upstream request, so the failure is the client's.
func (f *Forwarder) copyBody(client context.Context, w http.ResponseWriter, rc *http.ResponseController, src io.ReadCloser, flushEach bool, idle time.Duration) (int64, error) {
	bp, _ := f.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, bufSize)
		bp = &b
	}
	defer f.bufs.Put(bp)
	buf := *bp
	var iw *idleWatch
	if idle > 0 {
		iw = f.watch(src, idle)
		defer f.unwatch(iw)
	}
	var n int64
	for {
		if iw != nil {
			iw.begin()
		}
		nr, rerr := src.Read(buf)
		if iw != nil {
			iw.end()
		}
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, fmt.Errorf("%w: %v", ErrClientWrite, werr)
			}
			if flushEach {
				if err := rc.Flush(); err != nil {
					return n, fmt.Errorf("%w: %v", ErrClientWrite, err)
				}
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			if client.Err() != nil {
				return n, fmt.Errorf("%w: client gone: %v", ErrClientWrite, rerr)
			}
			if iw != nil && iw.stop() {
				return n, fmt.Errorf("%w: %w: nothing received for %v", ErrUpstreamBody, ErrUpstreamIdle, idle)
			}
			return n, fmt.Errorf("%w: %v", ErrUpstreamBody, rerr)
		}
	}
}

// idleWatch closes a response body whose read has waited for longer than
// the idle limit, which ends the read. A read costs two atomic additions
// and no clock reading: the watch's one timer, shared through
// Forwarder.idles by many responses, fires every quarter of the limit while
// a response is watched, and cuts the body when it has seen the same read
// pending at five checks in a row — a wait of at least the limit, and less
// than a quarter more. Timers only ever fire late, so a body is never cut
// early; time spent between reads, writing to the client, never counts.
type idleWatch struct {
	t *time.Timer
	// seq counts read starts and ends: odd while a read is waiting.
	seq atomic.Uint64

	mu      sync.Mutex    // guards the fields below
	period  time.Duration // the check interval, a quarter of the limit
	armed   bool          // t is set to fire
	body    io.Closer     // the body watched; nil when the watch is off
	last    uint64        // seq at the previous check
	strikes int           // checks in a row that found the read of last pending
	fired   bool          // the limit passed and body was closed
}

// idleChecks is how many check intervals make up the idle limit.
const idleChecks = 4

func (f *Forwarder) watch(body io.Closer, idle time.Duration) *idleWatch {
	w, _ := f.idles.Get().(*idleWatch)
	if w == nil {
		w = new(idleWatch)
	}
	period := max(idle/idleChecks, time.Nanosecond)
	w.mu.Lock()
	w.body, w.fired = body, false
	w.last, w.strikes = w.seq.Load(), 0
	switch {
	case w.t == nil:
		w.t = time.AfterFunc(period, w.fire)
	case !w.armed || w.period != period:
		// An armed timer left by an earlier response with the same
		// limit fires no later than this response needs: keep it.
		w.t.Reset(period)
	}
	w.period, w.armed = period, true
	w.mu.Unlock()
	return w
}

func (f *Forwarder) unwatch(w *idleWatch) {
	w.stop()
	f.idles.Put(w)
}

// stop ends the watch and reports whether the limit had passed. The timer
// is left to run out: its next check finds the watch off.
func (w *idleWatch) stop() bool {
	w.mu.Lock()
	w.body = nil
	fired := w.fired
	w.mu.Unlock()
	return fired
}

func (w *idleWatch) begin() { w.seq.Add(1) }
func (w *idleWatch) end()   { w.seq.Add(1) }

// fire is the timer's check.
func (w *idleWatch) fire() {
	w.mu.Lock()
	if w.body == nil || w.fired {
		w.armed = false
		w.mu.Unlock()
		return
	}
	if s := w.seq.Load(); s%2 == 1 && s == w.last {
		w.strikes++
	} else {
		w.last, w.strikes = s, 0
	}
	if w.strikes < idleChecks {
		w.t.Reset(w.period)
		w.mu.Unlock()
		return
	}
	w.fired, w.armed = true, false
	body := w.body
	w.mu.Unlock()
	body.Close() // fails the waiting read
}
