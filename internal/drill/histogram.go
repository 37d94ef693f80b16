package drill

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the histogram's precision: 2^subBits linear sub-buckets per
// power of two, so a bucket is at most 1/64 (1.6%) of its value wide, as in
// HdrHistogram with two significant digits.
const subBits = 6

const (
	subCount   = 1 << subBits
	numBuckets = subCount + (64-subBits-1)*subCount + subCount
)

// bucketOf returns the bucket of v: values below 64 have a bucket each;
// above, a bucket keeps the top seven bits of v.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return subCount + shift*subCount + int(v>>shift) - subCount
}

// bucketLow returns the smallest value of bucket i.
func bucketLow(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := (i - subCount) / subCount
	m := uint64(i-subCount)%subCount + subCount
	return m << shift
}

// Histogram is a streaming latency histogram with log-linear buckets
// (HdrHistogram's layout): constant memory, quantiles within 1/64 relative
// error. The zero value is ready to use; Record and the readers are safe for
// concurrent use and do not block or allocate.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
}

// Record adds one latency; negative values count as 0.
func (h *Histogram) Record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))].Add(1)
	h.n.Add(1)
}

// Count returns how many latencies were recorded.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the recorded latencies:
// the lower bound of the bucket that holds it, 0 when the histogram is
// empty. Under concurrent Records it is the quantile of some recent state.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(bucketLow(i))
		}
	}
	// Records raced ahead of the total: the largest bucket seen.
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i].Load() > 0 {
			return time.Duration(bucketLow(i))
		}
	}
	return 0
}
