package slo

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket widths and the span of the fine ring (see the package doc).
const (
	fineWidth   = time.Minute
	fineSpan    = 6 * time.Hour
	coarseWidth = time.Hour
)

// DefaultPeriod is the objective period when none is given: 30 days, as in
// the SRE Workbook's examples.
const DefaultPeriod = 30 * 24 * time.Hour

// Events are the good and total events of an SLI over a window.
type Events struct {
	Good  uint64 `json:"good"`
	Total uint64 `json:"total"`
}

// Bad returns the events that were not good.
func (e Events) Bad() uint64 { return e.Total - e.Good }

// ErrorRatio returns the share of bad events, 0 when there are none at all.
func (e Events) ErrorRatio() float64 {
	if e.Total == 0 {
		return 0
	}
	return float64(e.Bad()) / float64(e.Total)
}

// Add returns the sum of e and o.
func (e Events) Add(o Events) Events { return Events{Good: e.Good + o.Good, Total: e.Total + o.Total} }

// Source is anything that can tell the events of a window ending at t: a
// [Counter], or a sum of counters (the routes of a service).
type Source interface {
	Window(t time.Time, d time.Duration) Events
}

// Sum is a [Source] that adds up the windows of its counters.
type Sum []*Counter

// Window returns the events of every counter in s over d before t.
func (s Sum) Window(t time.Time, d time.Duration) Events {
	var e Events
	for _, c := range s {
		e = e.Add(c.Window(t, d))
	}
	return e
}

// Counter counts the good and total events of one SLI in time windows, in
// bounded memory (see the package doc). Record and RecordAt are lock-free
// and allocation-free, except for a short lock once per minute when a new
// bucket begins; Window takes that lock. A Counter is safe for concurrent
// use. Create it with [NewCounter].
type Counter struct {
	good, total atomic.Uint64 // cumulative since creation
	tick        atomic.Int64  // fine bucket of the last advance; math.MinInt64 before the first

	mu     sync.Mutex // guards fine and coarse
	fine   ring
	coarse ring
}

// ring holds the cumulative counts at the start of each of the last
// len(slots) buckets: slot k%len(slots) is bucket k, for k in
// (head-len(slots), head] and k >= first.
type ring struct {
	width   int64 // ns
	slots   []Events
	head    int64
	first   int64
	started bool
}

// NewCounter returns a counter that can answer windows up to span (the
// objective's period, rounded up to an hour; 0 or less means
// [DefaultPeriod]). Windows up to 6h have a resolution of one minute,
// longer ones of one hour.
func NewCounter(span time.Duration) *Counter {
	if span <= 0 {
		span = DefaultPeriod
	}
	hours := int((span + coarseWidth - 1) / coarseWidth)
	c := &Counter{
		fine:   ring{width: int64(fineWidth), slots: make([]Events, int(fineSpan/fineWidth)+1)},
		coarse: ring{width: int64(coarseWidth), slots: make([]Events, hours+1)},
	}
	c.tick.Store(math.MinInt64)
	return c
}

// Record counts one event at time.Now(): good or not.
func (c *Counter) Record(good bool) { c.RecordAt(time.Now(), good) }

// RecordAt counts one event at t: good or not. A t earlier than an event
// already counted is counted in the latest bucket.
func (c *Counter) RecordAt(t time.Time, good bool) {
	if t.UnixNano()/int64(fineWidth) > c.tick.Load() {
		c.advance(t)
	}
	// total first: a snapshot that reads good, then total, never sees
	// more good events than events.
	c.total.Add(1)
	if good {
		c.good.Add(1)
	}
}

// advance snapshots the counts at the boundaries of the buckets begun
// since the last advance, up to t's.
func (c *Counter) advance(t time.Time) {
	c.mu.Lock()
	c.advanceLocked(t)
	c.mu.Unlock()
}

func (c *Counter) advanceLocked(t time.Time) {
	ns := t.UnixNano()
	k := ns / int64(fineWidth)
	if k <= c.tick.Load() {
		return
	}
	now := c.now()
	c.fine.advance(k, now)
	c.coarse.advance(ns/c.coarse.width, now)
	c.tick.Store(k)
}

// now reads the cumulative counts, good first (see RecordAt).
func (c *Counter) now() Events {
	g := c.good.Load()
	return Events{Good: g, Total: c.total.Load()}
}

func (r *ring) advance(k int64, cum Events) {
	n := int64(len(r.slots))
	if !r.started {
		r.started, r.first, r.head = true, k, k
		r.slots[k%n] = cum
		return
	}
	if k <= r.head {
		return
	}
	for j := max(r.head+1, k-n+1); j <= k; j++ {
		r.slots[j%n] = cum
	}
	r.head = k
}

// at returns the cumulative counts at the start of bucket k: zero before
// the first bucket, the oldest kept for one older than the ring holds.
func (r *ring) at(k int64) Events {
	n := int64(len(r.slots))
	k = min(max(k, r.head-n+1), r.head)
	if !r.started || k < r.first {
		return Events{}
	}
	return r.slots[k%n]
}

// Window returns the events of the last d before t: from the boundary of
// the bucket d before t's to t (between d and d plus one bucket), at most
// the counter's span. t should not be earlier than the events counted.
func (c *Counter) Window(t time.Time, d time.Duration) Events {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceLocked(t)
	now := c.now()
	r, w := &c.fine, fineWidth
	if d > fineSpan {
		r, w = &c.coarse, coarseWidth
	}
	if !r.started {
		return now
	}
	steps := int64((d + w - 1) / w)
	start := r.at(r.head - steps)
	return Events{Good: now.Good - start.Good, Total: now.Total - start.Total}
}

// Total returns every event counted since the counter was created.
func (c *Counter) Total() Events { return c.now() }
