package slo_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/slo"
)

func TestHistogramQuantile(t *testing.T) {
	h := slo.NewHistogram(5 * time.Minute)
	// 1000 latencies 1ms, 2ms, … 1000ms: the P99 is 990ms, the P50 500ms.
	for i := 1; i <= 1000; i++ {
		h.ObserveAt(base, time.Duration(i)*time.Millisecond)
	}
	var c slo.Counts
	h.Counts(base, 5*time.Minute, &c)
	if c.Total() != 1000 {
		t.Fatalf("Counts total %d, want 1000", c.Total())
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, 1000 * time.Millisecond}, {0.001, time.Millisecond}} {
		got := c.Quantile(tt.q)
		// Within a tenth: the buckets are a quarter wide at most and
		// the quantile is interpolated inside one.
		if d := float64(got-tt.want) / float64(tt.want); d > 0.1 || d < -0.1 {
			t.Errorf("Quantile(%v) = %v, want %v within 10%%", tt.q, got, tt.want)
		}
	}
	var empty slo.Counts
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("Quantile of nothing = %v, want 0", got)
	}
}

func TestHistogramBucketsCoverEveryLatency(t *testing.T) {
	h := slo.NewHistogram(time.Minute)
	for _, d := range []time.Duration{-time.Second, 0, time.Microsecond, 2 * time.Microsecond, 3 * time.Microsecond, 7 * time.Microsecond, time.Hour, 1000 * time.Hour} {
		h.ObserveAt(base, d)
		var c slo.Counts
		h.Counts(base, time.Minute, &c)
		if q := c.Quantile(1); q < 0 {
			t.Errorf("after %v: Quantile(1) = %v", d, q)
		}
	}
}

// Latencies older than the window leave it; Counts of several
// histograms add up.
func TestHistogramSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := slo.NewHistogram(5*time.Minute), slo.NewHistogram(5*time.Minute)
		for range 100 {
			a.Observe(time.Second)
		}
		time.Sleep(7 * time.Minute)
		for range 100 {
			b.Observe(10 * time.Millisecond)
			a.Observe(10 * time.Millisecond)
		}
		var ca, cb slo.Counts
		a.Counts(time.Now(), 5*time.Minute, &ca)
		b.Counts(time.Now(), 5*time.Minute, &cb)
		if ca.Total() != 100 {
			t.Errorf("7 minutes on, a holds %d latencies in 5m, want the 100 recent ones", ca.Total())
		}
		ca.Add(&cb)
		if ca.Total() != 200 {
			t.Errorf("a + b = %d latencies, want 200", ca.Total())
		}
		if p := ca.Quantile(0.99); p > 12*time.Millisecond {
			t.Errorf("P99 = %v: the 1s latencies should have left the window", p)
		}
	})
}
