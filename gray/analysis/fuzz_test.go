package analysis_test

import (
	"testing"
	"time"

	"github.com/duohuo/duohuo/gray/analysis"
)

// FuzzQuantile: for any counts, quantiles never decrease with q and stay
// within [0, the largest bound]; Compare never panics and gives a verdict
// only with enough requests.
func FuzzQuantile(f *testing.F) {
	f.Add(uint16(50), uint16(40), uint16(9), uint16(1), uint16(3), uint16(1000))
	f.Add(uint16(0), uint16(0), uint16(0), uint16(0), uint16(0), uint16(0))
	f.Add(uint16(0), uint16(0), uint16(0), uint16(7), uint16(7), uint16(7))
	f.Fuzz(func(t *testing.T, a, b, c, overflow, errs, reqs uint16) {
		ms := time.Millisecond
		h := analysis.Histogram{Bounds: []time.Duration{10 * ms, 20 * ms, 40 * ms}, Counts: []uint64{uint64(a), uint64(b), uint64(c), uint64(overflow)}}
		var prev time.Duration
		for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
			d, ok := h.Quantile(q)
			if !ok {
				if h.Total() != 0 {
					t.Fatalf("Quantile(%v) not ok for %v", q, h.Counts)
				}
				return
			}
			if d < prev || d < 0 || d > 40*ms {
				t.Fatalf("Quantile(%v) = %v after %v for %v", q, d, prev, h.Counts)
			}
			prev = d
		}
		cohort := analysis.Cohort{Requests: uint64(reqs), Errors: uint64(errs), Latency: h}
		res := analysis.Compare(cohort, cohort, analysis.SLO{})
		if uint64(reqs) < 200 && res.Verdict != analysis.Inconclusive {
			t.Fatalf("verdict %v with %d requests", res.Verdict, reqs)
		}
		if res.Verdict == analysis.Worse {
			t.Fatalf("a cohort is worse than itself: %v", res.Reasons)
		}
	})
}
