package analysis

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Histogram counts latencies in buckets: Counts[i] is the number of
// observations at most Bounds[i] (and above Bounds[i-1]); the last count,
// Counts[len(Bounds)], is the overflow above every bound. The same shape
// as a Prometheus histogram, without the cumulation, so one can be built
// from the other.
type Histogram struct {
	Bounds []time.Duration // ascending upper bounds
	Counts []uint64        // len(Bounds)+1 counts, the last the overflow
}

// DefaultBounds are latency bucket bounds from 1 ms to 30 s, about 25%
// apart in the range where p99s of web services live, so that
// interpolated quantiles are within a few percent.
var DefaultBounds = func() []time.Duration {
	var out []time.Duration
	for d := time.Millisecond; d < 30*time.Second; d = d * 5 / 4 {
		out = append(out, d)
	}
	return append(out, 30*time.Second)
}()

// Total returns the number of observations.
func (h Histogram) Total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile returns the q-quantile (0 < q ≤ 1), interpolated linearly
// within its bucket (from 0 for the first bucket); a quantile in the
// overflow bucket is the largest bound. ok is false when h has no
// observation or its shape is inconsistent.
func (h Histogram) Quantile(q float64) (d time.Duration, ok bool) {
	if len(h.Counts) != len(h.Bounds)+1 || !(q > 0 && q <= 1) {
		return 0, false
	}
	total := h.Total()
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var cum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			if i == len(h.Bounds) {
				return h.Bounds[len(h.Bounds)-1], len(h.Bounds) > 0
			}
			lo := time.Duration(0)
			if i > 0 {
				lo = h.Bounds[i-1]
			}
			frac := (rank - cum) / float64(c)
			return lo + time.Duration(math.Round(frac*float64(h.Bounds[i]-lo))), true
		}
		cum += float64(c)
	}
	return h.Bounds[len(h.Bounds)-1], len(h.Bounds) > 0
}

// Recorder accumulates a [Cohort] from the request path: lock-free, one
// atomic add per counter, no allocation. The gateway keeps one per route
// × subset and reads it with Snapshot; the zero value is not usable, use
// [NewRecorder].
type Recorder struct {
	bounds   []time.Duration
	requests atomic.Uint64
	errors   atomic.Uint64
	counts   []atomic.Uint64
}

// NewRecorder returns a Recorder with these bucket bounds (ascending;
// nil means [DefaultBounds]).
func NewRecorder(bounds []time.Duration) *Recorder {
	if bounds == nil {
		bounds = DefaultBounds
	}
	return &Recorder{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe records one request: whether it failed and how long it took.
// Safe for concurrent use.
func (r *Recorder) Observe(failed bool, d time.Duration) {
	r.requests.Add(1)
	if failed {
		r.errors.Add(1)
	}
	// Binary search for the first bound ≥ d.
	lo, hi := 0, len(r.bounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.bounds[m] < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	r.counts[lo].Add(1)
}

// Snapshot returns the cohort recorded so far. Under concurrent Observe
// calls the counters are read one by one, so they may differ by the
// requests in flight.
func (r *Recorder) Snapshot() Cohort {
	c := Cohort{Requests: r.requests.Load(), Errors: r.errors.Load(),
		Latency: Histogram{Bounds: r.bounds, Counts: make([]uint64, len(r.counts))}}
	for i := range r.counts {
		c.Latency.Counts[i] = r.counts[i].Load()
	}
	return c
}

// Sub returns c minus an earlier snapshot of the same recorder: the
// cohort of the window between them.
func (c Cohort) Sub(earlier Cohort) Cohort {
	out := Cohort{Requests: c.Requests - earlier.Requests, Errors: c.Errors - earlier.Errors,
		Latency: Histogram{Bounds: c.Latency.Bounds, Counts: make([]uint64, len(c.Latency.Counts))}}
	for i := range out.Latency.Counts {
		out.Latency.Counts[i] = c.Latency.Counts[i]
		if i < len(earlier.Latency.Counts) {
			out.Latency.Counts[i] -= earlier.Latency.Counts[i]
		}
	}
	return out
}

// FromCumulative converts a Prometheus-style histogram — cumulative
// counts per upper bound, and the total count (the +Inf bucket) — into a
// Histogram. It refuses bounds that do not ascend and counts that
// decrease, naming the index.
func FromCumulative(bounds []time.Duration, cumulative []uint64, total uint64) (Histogram, error) {
	if len(bounds) != len(cumulative) {
		return Histogram{}, fmt.Errorf("analysis: %d bounds but %d counts", len(bounds), len(cumulative))
	}
	h := Histogram{Bounds: append([]time.Duration(nil), bounds...), Counts: make([]uint64, len(bounds)+1)}
	var prev uint64
	for i, c := range cumulative {
		if i > 0 && bounds[i] <= bounds[i-1] {
			return Histogram{}, fmt.Errorf("analysis: bounds[%d] = %v does not ascend", i, bounds[i])
		}
		if c < prev {
			return Histogram{}, fmt.Errorf("analysis: cumulative[%d] = %d is below the previous %d", i, c, prev)
		}
		h.Counts[i] = c - prev
		prev = c
	}
	if total < prev {
		return Histogram{}, fmt.Errorf("analysis: total %d is below the last cumulative count %d", total, prev)
	}
	h.Counts[len(bounds)] = total - prev
	return h, nil
}
