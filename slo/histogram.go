package slo

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Histogram buckets: log-linear over microseconds, four buckets per power
// of two (each at most a quarter wider than its lower bound), from 0 to
// about 268 s; longer latencies fall in the last bucket.
const (
	histSub     = 4
	histMaxExp  = 27
	histBuckets = (histMaxExp + 1) * histSub
)

// histBucket returns the bucket of latency d.
func histBucket(d time.Duration) int {
	if d < 0 {
		d = 0
	}
	v := uint64(d/time.Microsecond) + 1 // ≥ 1
	e := bits.Len64(v) - 1
	if e < 2 {
		return int(v) - 1 // 1, 2, 3 µs+1: buckets 0, 1, 2
	}
	if e > histMaxExp {
		return histBuckets - 1
	}
	return e*histSub + int(v>>(e-2))&(histSub-1)
}

// histBounds returns the latencies bucket i holds: [lo, hi).
func histBounds(i int) (lo, hi time.Duration) {
	if i < 2*histSub { // 0, 1, 2 µs; buckets 3 to 7 are never used
		i = min(i, 2)
		return time.Duration(i) * time.Microsecond, time.Duration(i+1) * time.Microsecond
	}
	e, sub := i/histSub, uint64(i%histSub)
	l := (4 + sub) << (e - 2)
	return time.Duration(l-1) * time.Microsecond, time.Duration((l+(1<<(e-2)))-1) * time.Microsecond
}

// Counts are the latencies a [Histogram] saw over a window, by bucket.
// Counts of histograms of several routes add up ([Counts.Add]) into the
// counts of them all.
type Counts struct {
	n     [histBuckets]uint64
	total uint64
}

// Total returns the number of latencies counted.
func (c *Counts) Total() uint64 { return c.total }

// Add adds o's counts to c.
func (c *Counts) Add(o *Counts) {
	for i := range c.n {
		c.n[i] += o.n[i]
	}
	c.total += o.total
}

// Quantile returns the q-quantile (0 < q ≤ 1) of the counted latencies,
// interpolated linearly inside its bucket (an error of at most a quarter
// of the value, much less in practice), and 0 when none were counted.
func (c *Counts) Quantile(q float64) time.Duration {
	if c.total == 0 || !(q > 0) {
		return 0
	}
	q = min(q, 1)
	rank := uint64(math.Ceil(q * float64(c.total))) // the rank-th smallest
	var seen uint64
	for i, n := range c.n {
		if n == 0 || seen+n < rank {
			seen += n
			continue
		}
		lo, hi := histBounds(i)
		f := float64(rank-seen) / float64(n)
		return lo + time.Duration(f*float64(hi-lo))
	}
	lo, _ := histBounds(histBuckets - 1)
	return lo
}

// Histogram keeps latencies over a sliding window (one-minute buckets), in
// fixed memory: about 0.9 KiB per minute of window. Observe and ObserveAt
// are lock-free and allocation-free except for a short lock once per
// minute; Counts takes that lock. A Histogram is safe for concurrent use.
// Create it with [NewHistogram].
type Histogram struct {
	n    [histBuckets]atomic.Uint64 // cumulative
	tick atomic.Int64               // minute of the last advance; math.MinInt64 before the first

	mu      sync.Mutex // guards the fields below
	slots   []uint64   // len(slots)/histBuckets snapshots; snapshot k%m is the start of minute k
	head    int64
	first   int64
	started bool
}

// NewHistogram returns a histogram that answers windows up to window
// (rounded up to a minute; 0 or less means 5 minutes).
func NewHistogram(window time.Duration) *Histogram {
	if window <= 0 {
		window = 5 * time.Minute
	}
	m := int((window+fineWidth-1)/fineWidth) + 1
	h := &Histogram{slots: make([]uint64, m*histBuckets)}
	h.tick.Store(math.MinInt64)
	return h
}

// Observe counts latency d at time.Now().
func (h *Histogram) Observe(d time.Duration) { h.ObserveAt(time.Now(), d) }

// ObserveAt counts latency d at t.
func (h *Histogram) ObserveAt(t time.Time, d time.Duration) {
	if t.UnixNano()/int64(fineWidth) > h.tick.Load() {
		h.mu.Lock()
		h.advanceLocked(t)
		h.mu.Unlock()
	}
	h.n[histBucket(d)].Add(1)
}

func (h *Histogram) advanceLocked(t time.Time) {
	k := t.UnixNano() / int64(fineWidth)
	if k <= h.tick.Load() {
		return
	}
	m := int64(len(h.slots) / histBuckets)
	from := k
	if h.started {
		from = max(h.head+1, k-m+1)
	} else {
		h.started, h.first = true, k
	}
	for j := from; j <= k; j++ {
		s := h.slots[(j%m)*histBuckets:][:histBuckets]
		for i := range s {
			s[i] = h.n[i].Load()
		}
	}
	h.head = k
	h.tick.Store(k)
}

// Counts returns the latencies of the last d before t (from the start of
// the minute d before t's; at most the histogram's window) into c.
func (h *Histogram) Counts(t time.Time, d time.Duration, c *Counts) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advanceLocked(t)
	*c = Counts{}
	m := int64(len(h.slots) / histBuckets)
	k := h.head - int64((d+fineWidth-1)/fineWidth)
	var start []uint64
	k = max(k, h.head-m+1)
	if h.started && k >= h.first {
		start = h.slots[(k%m)*histBuckets:][:histBuckets]
	}
	for i := range c.n {
		v := h.n[i].Load()
		if start != nil {
			v -= start[i]
		}
		c.n[i] = v
		c.total += v
	}
}
