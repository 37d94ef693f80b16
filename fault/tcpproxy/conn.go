package tcpproxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// conn is one proxied connection: the accepted client side, the dialled
// server side, and per direction a reader and a writer goroutine joined by a
// bounded channel of chunks. The reader stamps each chunk with the time it
// was read, so that latency is measured per chunk and does not accumulate,
// and keeps reading while the writer drops data for a blackhole.
type conn struct {
	p      *Proxy
	client *net.TCPConn
	start  time.Time
	seed   uint64        // draws this connection's toxicity rolls
	done   chan struct{} // closed by shutdown

	mu     sync.Mutex // guards server and down
	server *net.TCPConn
	down   bool

	halves atomic.Int32 // directions that ended with a clean FIN
}

// chunk is a piece of data read from one side, or the end of the stream.
type chunk struct {
	buf *[]byte
	n   int
	at  time.Time
	eof bool
}

// chunkSize is the read size; queueLen chunks may wait per direction, which
// bounds the memory of a connection to 2 × queueLen × chunkSize and gives
// the sender back-pressure when a direction is throttled.
const (
	chunkSize = 32 << 10
	queueLen  = 8
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

func (c *conn) run() {
	defer c.p.wg.Done()
	defer c.p.forget(c)

	d := net.Dialer{Timeout: c.p.dialTimeout}
	sc, err := d.DialContext(c.p.ctx, "tcp", c.p.upstream)
	if err != nil {
		// The upstream is down: the client sees a reset, as it would
		// from a proxy whose backend refused.
		c.shutdown(Downstream)
		return
	}
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		sc.Close()
		return
	}
	c.server = sc.(*net.TCPConn)
	c.mu.Unlock()

	var v view
	_, eff := v.load(c.p, c.seed)
	if due, dirs, ok := c.nextCut(eff); ok && !due.After(time.Now()) {
		c.shutdown(dirs)
		return
	}
	up := &pipe{c: c, dir: Upstream, idx: 0, src: c.client, dst: c.server, ch: make(chan chunk, queueLen)}
	down := &pipe{c: c, dir: Downstream, idx: 1, src: c.server, dst: c.client, ch: make(chan chunk, queueLen)}
	var wg sync.WaitGroup
	wg.Go(up.read)
	wg.Go(up.write)
	wg.Go(down.read)
	wg.Go(down.write)
	c.supervise(&v)
	wg.Wait()
}

// nextCut returns when the earliest ResetPeer or Timeout toxic of eff fires
// for this connection and what it does then: reset the directions in reset
// (ResetPeer), or close both sides cleanly (Timeout, reset 0). ok is false
// if no such toxic is set.
func (c *conn) nextCut(eff *[2]dirToxics) (due time.Time, reset Direction, ok bool) {
	consider := func(set time.Time, after time.Duration, dirs Direction) {
		from := set
		if c.start.After(from) {
			from = c.start
		}
		at := from.Add(after)
		switch {
		case !ok || at.Before(due):
			due, reset, ok = at, dirs, true
		case at.Equal(due):
			reset |= dirs
		}
	}
	for i, d := range [2]Direction{Upstream, Downstream} {
		t := &eff[i]
		if t.reset {
			consider(t.resetAt, t.resetAfter, d)
		}
		if t.timeout {
			consider(t.timeoutAt, t.timeoutAfter, 0)
		}
	}
	return due, reset, ok
}

// supervise fires ResetPeer and Timeout toxics, re-arming whenever the
// toxics change, until the connection is shut down.
func (c *conn) supervise(v *view) {
	for {
		snap, eff := v.load(c.p, c.seed)
		var timer *time.Timer
		var fire <-chan time.Time
		due, dirs, ok := c.nextCut(eff)
		if ok {
			timer = time.NewTimer(time.Until(due))
			fire = timer.C
		}
		select {
		case <-c.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-snap.changed:
			if timer != nil {
				timer.Stop()
			}
		case <-fire:
			c.shutdown(dirs)
			return
		}
	}
}

// shutdown closes both sides once. The sides named in reset are closed with
// SO_LINGER 0, which makes the kernel send RST instead of FIN.
func (c *conn) shutdown(reset Direction) {
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return
	}
	c.down = true
	close(c.done)
	server := c.server
	c.mu.Unlock()
	if reset&Downstream != 0 {
		c.client.SetLinger(0)
	}
	c.client.Close()
	if server != nil {
		if reset&Upstream != 0 {
			server.SetLinger(0)
		}
		server.Close()
	}
}

// sleep waits for d or until the connection is shut down, and reports
// whether the connection is still up.
func (c *conn) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.done:
		return false
	}
}

// pipe is one direction of a conn.
type pipe struct {
	c        *conn
	dir      Direction
	idx      int // index into snapshot.dir
	src, dst *net.TCPConn
	ch       chan chunk
	rview    view // the reader's cache of the toxics
	wview    view // the writer's

	// pending counts chunks queued or being written by the writer; while
	// it is 0 the reader may write itself (see read).
	pending atomic.Int32

	// Writer state; the reader touches sent only while pending is 0.
	sent    int64     // bytes forwarded, for LimitData
	next    time.Time // earliest time of the next write, for Bandwidth
	lastDue time.Time // due time of the previous chunk, keeps order under jitter
}

// rtoxics and wtoxics return this direction's toxics for the reader and the
// writer goroutine, each from its own cache.
func (w *pipe) rtoxics() *dirToxics {
	_, eff := w.rview.load(w.c.p, w.c.seed)
	return &eff[w.idx]
}

func (w *pipe) wtoxics() (*snapshot, *dirToxics) {
	s, eff := w.wview.load(w.c.p, w.c.seed)
	return s, &eff[w.idx]
}

func (w *pipe) read() {
	defer close(w.ch)
	for {
		bp := bufPool.Get().(*[]byte)
		n, err := w.src.Read(*bp)
		switch {
		case n == 0:
			bufPool.Put(bp)
		case w.pending.Load() == 0 && w.rtoxics().none():
			// Fast path: no toxics and nothing queued, so the writer is
			// idle and writing here keeps the stream in order while
			// saving two goroutine hand-offs per chunk.
			ok := w.writeAll((*bp)[:n])
			bufPool.Put(bp)
			if !ok {
				return
			}
		default:
			w.pending.Add(1)
			select {
			case w.ch <- chunk{buf: bp, n: n, at: time.Now()}:
			case <-w.c.done:
				bufPool.Put(bp)
				return
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			select {
			case w.ch <- chunk{eof: true}:
			case <-w.c.done:
			}
			return
		}
		// A reset from one side is passed on to the other, so that a
		// client sees its server crash as it would without the proxy.
		var reset Direction
		if errors.Is(err, syscall.ECONNRESET) {
			reset = w.dir
		}
		w.c.shutdown(reset)
		return
	}
}

func (w *pipe) write() {
	for {
		var ck chunk
		var ok bool
		select {
		case ck, ok = <-w.ch:
		case <-w.c.done:
			return
		}
		if !ok {
			return
		}
		if ck.eof {
			w.finish()
			return
		}
		ok = w.forward(ck)
		w.pending.Add(-1)
		if !ok {
			return
		}
	}
}

// finish passes on the end of the stream, holding it while the direction is
// blackholed, and shuts the connection down when both directions are done.
func (w *pipe) finish() {
	for {
		snap, t := w.wtoxics()
		if !t.blackhole {
			break
		}
		select {
		case <-snap.changed:
		case <-w.c.done:
			return
		}
	}
	if _, t := w.wtoxics(); t.slowClose > 0 && !w.c.sleep(t.slowClose) {
		return
	}
	w.dst.CloseWrite()
	if w.c.halves.Add(1) == 2 {
		w.c.shutdown(0)
	}
}

// forward applies the direction's toxics to ck and writes it. It reports
// whether the connection is still up.
func (w *pipe) forward(ck chunk) bool {
	defer bufPool.Put(ck.buf)
	b := (*ck.buf)[:ck.n]
	_, t := w.wtoxics()
	if t.none() {
		return w.writeAll(b)
	}
	if t.blackhole {
		return true
	}
	if t.delay > 0 {
		d := t.delay
		if t.jitter > 0 {
			// In uint64, 2·jitter+1 cannot overflow.
			d += time.Duration(rand.Uint64N(2*uint64(t.jitter)+1)) - t.jitter
		}
		due := ck.at.Add(d)
		if due.Before(w.lastDue) {
			due = w.lastDue
		}
		w.lastDue = due
		if !w.c.sleep(time.Until(due)) {
			return false
		}
	}
	limited := false
	if t.limit >= 0 && w.sent+int64(len(b)) >= t.limit {
		b = b[:max(t.limit-w.sent, 0)]
		limited = true
	}
	ok := w.sliced(b, t)
	if ok && limited {
		w.c.shutdown(0)
		return false
	}
	return ok
}

func (w *pipe) writeAll(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	n, err := w.dst.Write(b)
	w.sent += int64(n)
	if err != nil {
		w.c.shutdown(0)
		return false
	}
	return true
}

// sliced writes b in the pieces of the direction's Slicer, if any, each at
// the direction's rate.
func (w *pipe) sliced(b []byte, t *dirToxics) bool {
	out := func(b []byte) bool {
		if t.rate > 0 {
			return w.paced(b, t.rate)
		}
		return w.writeAll(b)
	}
	s := t.slice
	if s.AverageSize == 0 {
		return out(b)
	}
	for first := true; len(b) > 0; first = false {
		if !first && !w.c.sleep(s.Delay) {
			return false
		}
		n := s.AverageSize
		if s.SizeVariation > 0 {
			n += rand.IntN(2*s.SizeVariation+1) - s.SizeVariation
		}
		n = min(max(n, 1), len(b))
		if !out(b[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// paced writes b at rate bytes per second in pieces of about 10ms each.
func (w *pipe) paced(b []byte, rate int64) bool {
	piece := int(max(rate/100, 1))
	for len(b) > 0 {
		n := min(len(b), piece)
		now := time.Now()
		if w.next.Before(now) {
			w.next = now
		}
		if !w.c.sleep(w.next.Sub(now)) {
			return false
		}
		if !w.writeAll(b[:n]) {
			return false
		}
		w.next = w.next.Add(time.Duration(int64(n) * int64(time.Second) / rate))
		b = b[n:]
	}
	return true
}
