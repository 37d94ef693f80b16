package ratelimit

import (
	"math"
	"sync"
	"time"
)

// WindowConfig configures a [Window]. The zero value is valid: a
// one-second window that admits nothing.
type WindowConfig struct {
	// Window is the length of the sliding window. 0 or negative means 1s.
	Window time.Duration
	// Requests is how many calls the window admits. 0 or negative: none.
	Requests int
}

// Window is a sliding-window counter: it admits a call while the calls of
// the last Window, estimated from two fixed windows, are fewer than
// Requests. The estimate is the current fixed window's count plus the
// previous one's weighted by the share of it still inside the sliding
// window (the two-bucket approximation nginx-like proxies and Cloudflare
// use): it needs two counters per limiter whatever the rate, and it never
// lets through a burst of twice the limit across a window's edge, as a
// fixed window does. Under a sustained overload it admits Requests−1 per
// window, not Requests: the call that would be a window's last lands on
// its edge.
//
// Its methods are safe for concurrent use and do not allocate.
type Window struct {
	width int64 // ns
	limit float64
	base  time.Time

	mu        sync.Mutex // guards the fields below
	start     int64      // start of the current fixed window, ns since base
	prev, cur float64    // calls counted in the previous and the current fixed window
}

// NewWindow returns an empty window.
func NewWindow(c WindowConfig) *Window {
	w := &Window{width: int64(c.Window), limit: float64(max(c.Requests, 0)), base: time.Now()}
	if w.width <= 0 {
		w.width = int64(time.Second)
	}
	return w
}

// advance moves the fixed windows to now. w.mu must be held.
func (w *Window) advance(now int64) {
	start := now - now%w.width
	switch start {
	case w.start:
		return
	case w.start + w.width:
		w.prev = w.cur
	default:
		w.prev = 0
	}
	w.cur, w.start = 0, start
}

// estimate is the calls counted in the sliding window that ends at now.
// w.mu must be held.
func (w *Window) estimate(now int64) float64 {
	f := float64(now-w.start) / float64(w.width)
	return w.prev*(1-f) + w.cur
}

// Allow counts a call if the window admits it now and reports whether it
// did.
func (w *Window) Allow() bool {
	_, ok := w.Reserve(0)
	return ok
}

// Reserve counts one call, as [Bucket.Reserve] does: ok and wait 0, the
// call goes ahead now; ok and wait > 0, it goes ahead after wait (at most
// maxWait); not ok, it is not counted and wait is how long until the
// window would admit it. A queued call is counted from the moment it is
// queued, so that the calls that arrive after it see it: the window never
// admits more than Requests, at the cost of admitting slightly fewer when
// calls queue across a window's edge.
func (w *Window) Reserve(maxWait time.Duration) (wait time.Duration, ok bool) {
	now := int64(time.Since(w.base))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(now)
	if w.estimate(now)+1 <= w.limit {
		w.cur++
		return 0, true
	}
	wait = w.waitAt(now)
	if wait > maxWait {
		return wait, false
	}
	w.cur++
	return wait, true
}

// waitAt is how long until the estimate leaves room for one more call.
// w.mu must be held.
func (w *Window) waitAt(now int64) time.Duration {
	if w.limit < 1 {
		return MaxWait
	}
	width := float64(w.width)
	var at float64 // ns since the current window's start
	if w.cur+1 <= w.limit {
		// Within this window, once enough of the previous one has slid
		// out: prev·(1−f) ≤ limit − cur − 1 (prev > 0, or there would be
		// room).
		at = width * (1 - (w.limit-w.cur-1)/w.prev)
	} else {
		// In the next window, where this one's count slides out:
		// cur·(1−f) + 1 ≤ limit.
		at = width * (2 - (w.limit-1)/w.cur)
	}
	d := math.Ceil(at) - float64(now-w.start)
	return time.Duration(max(d, 1))
}

// Count returns the calls in the sliding window that ends now (an
// estimate, see [Window]).
func (w *Window) Count() float64 {
	now := int64(time.Since(w.base))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(now)
	return w.estimate(now)
}
