package drill

import (
	"testing"
	"time"
)

func TestBucketsCoverEveryValueWithinOneSixtyFourth(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 20, 123456789, 1<<63 - 1, 1<<64 - 1} {
		checkBucket(t, v)
	}
}

func checkBucket(t *testing.T, v uint64) {
	t.Helper()
	b := bucketOf(v)
	if b < 0 || b >= numBuckets {
		t.Fatalf("bucketOf(%d) = %d, want in [0, %d)", v, b, numBuckets)
	}
	lo := bucketLow(b)
	if lo > v {
		t.Errorf("bucketLow(bucketOf(%d)) = %d, want ≤ %d", v, lo, v)
	}
	if b+1 < numBuckets {
		if hi := bucketLow(b + 1); hi <= v {
			t.Errorf("bucketLow(bucketOf(%d)+1) = %d, want > %d", v, hi, v)
		}
	}
	if v-lo > v/subCount {
		t.Errorf("value %d falls in bucket %d from %d: error %d, want ≤ %d", v, b, lo, v-lo, v/subCount)
	}
}

func FuzzBucketBounds(f *testing.F) {
	for _, v := range []uint64{0, 63, 64, 129, 1000, 123456789, 1<<64 - 1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint64) { checkBucket(t, v) })
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if got := h.Quantile(0.99); got != 0 {
		t.Errorf("empty Quantile(0.99) = %v, want 0", got)
	}
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(-time.Second) // counts as 0
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0, 0},
		{0.5, 500 * time.Millisecond},
		{0.99, 990 * time.Millisecond},
		{1, 1000 * time.Millisecond},
	} {
		got := h.Quantile(tc.q)
		if got > tc.want || tc.want-got > tc.want/subCount {
			t.Errorf("Quantile(%v) = %v, want within 1/64 below %v", tc.q, got, tc.want)
		}
	}
	if h.Count() != 1001 {
		t.Errorf("Count() = %d, want 1001", h.Count())
	}
}
