package resilience

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Latencies estimates a quantile of recent latencies, for hedging ("send a
// second request when the first is slower than the p95"). Observations go
// into log-linear buckets (8 per power of two, ≤ 9% relative error) in two
// alternating windows; Quantile reads the previous full window merged with
// the current one, so the estimate follows changes within two windows.
//
// Observe and Quantile take no lock and do not allocate. It is safe for
// concurrent use.
type Latencies struct {
	window int64 // nanoseconds
	now    func() time.Time
	epoch  time.Time
	slots  [2]latWindow
}

const (
	latSub     = 8  // buckets per power of two
	latPowers  = 40 // 1ns … ~1100s
	latBuckets = latSub * latPowers
)

type latWindow struct {
	id     atomic.Int64 // which window period this slot holds
	count  atomic.Int64
	counts [latBuckets]atomic.Int64
}

// NewLatencies returns a tracker with the given window (0 means 10s); now nil
// means time.Now.
func NewLatencies(window time.Duration, now func() time.Time) *Latencies {
	if window <= 0 {
		window = 10 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	l := &Latencies{window: int64(window), now: now, epoch: now()}
	l.slots[0].id.Store(-1)
	l.slots[1].id.Store(-1)
	return l
}

func latBucket(d time.Duration) int {
	v := uint64(max(d, 1))
	exp := 63 - bits.LeadingZeros64(v) // floor(log2 v)
	var sub uint64
	if exp >= 3 {
		sub = (v >> (exp - 3)) & (latSub - 1)
	} else {
		sub = (v << (3 - exp)) & (latSub - 1)
	}
	b := exp*latSub + int(sub)
	return min(b, latBuckets-1)
}

// latUpper is the upper bound of bucket b.
func latUpper(b int) time.Duration {
	exp, sub := b/latSub, b%latSub
	v := math.Ldexp(1+float64(sub+1)/latSub, exp)
	return time.Duration(v)
}

func (l *Latencies) slot() (*latWindow, int64) {
	id := int64(l.now().Sub(l.epoch)) / l.window
	w := &l.slots[id%2]
	if old := w.id.Load(); old != id && w.id.CompareAndSwap(old, id) {
		w.count.Store(0)
		for i := range w.counts {
			w.counts[i].Store(0)
		}
	}
	return w, id
}

// Observe records one latency.
func (l *Latencies) Observe(d time.Duration) {
	w, _ := l.slot()
	w.counts[latBucket(d)].Add(1)
	w.count.Add(1)
}

// Quantile returns the q-quantile (0 < q < 1) of the latencies of the current
// and the previous window, and false when they hold fewer than minCount
// observations.
func (l *Latencies) Quantile(q float64, minCount int64) (time.Duration, bool) {
	_, id := l.slot()
	var ws []*latWindow
	for i := range l.slots {
		if s := l.slots[i].id.Load(); s == id || s == id-1 {
			ws = append(ws, &l.slots[i])
		}
	}
	var total int64
	for _, w := range ws {
		total += w.count.Load()
	}
	if total < max(minCount, 1) {
		return 0, false
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for b := 0; b < latBuckets; b++ {
		for _, w := range ws {
			seen += w.counts[b].Load()
		}
		if seen >= rank {
			return latUpper(b), true
		}
	}
	return latUpper(latBuckets - 1), true
}
