package breaker

import (
	"math"
	"sync/atomic"
)

// bucket counts the outcomes of one slice of the sliding window. epoch is
// the index (time / width) of the slice it currently counts; a writer that
// finds an older epoch claims the bucket and zeroes it.
//
// The reset is not atomic with the counters: an outcome added by another
// goroutine between the claim and the zeroing can be lost. That only
// happens at a bucket boundary and loses at most a few outcomes out of a
// window, which a ratio with a minimum request count tolerates; the
// alternative, a lock per bucket, would put a mutex on the hot path.
type bucket struct {
	epoch              atomic.Int64
	calls, fails, slow atomic.Uint64
	_                  [32]byte // keep neighbouring buckets off one cache line
}

// bucket returns the bucket for time now (ns since base), claimed for it.
func (b *Breaker) bucket(now int64) *bucket {
	idx := now / b.width
	bk := &b.ring[idx%int64(len(b.ring))]
	if e := bk.epoch.Load(); e != idx && bk.epoch.CompareAndSwap(e, idx) {
		bk.calls.Store(0)
		bk.fails.Store(0)
		bk.slow.Store(0)
	}
	return bk
}

// sum returns the counts of the buckets within the window ending now.
func (b *Breaker) sum(now int64) (calls, fails, slow uint64) {
	idx := now / b.width
	n := int64(len(b.ring))
	for i := range b.ring {
		bk := &b.ring[i]
		if e := bk.epoch.Load(); e <= idx && e > idx-n {
			calls += bk.calls.Load()
			fails += bk.fails.Load()
			slow += bk.slow.Load()
		}
	}
	return calls, fails, slow
}

// resetWindow empties the window.
func (b *Breaker) resetWindow() {
	for i := range b.ring {
		bk := &b.ring[i]
		bk.epoch.Store(math.MinInt64) // in no window
		bk.calls.Store(0)
		bk.fails.Store(0)
		bk.slow.Store(0)
	}
}
