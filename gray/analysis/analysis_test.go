package analysis_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/gray/analysis"
)

// cohort builds a cohort of n requests with errs errors whose latencies
// are spread evenly from 1 ms to p100, through a real Recorder.
func cohort(n, errs int, p100 time.Duration) analysis.Cohort {
	r := analysis.NewRecorder(nil)
	for i := range n {
		d := time.Millisecond + time.Duration(int64(p100-time.Millisecond)*int64(i)/int64(max(n-1, 1)))
		r.Observe(i < errs, d)
	}
	return r.Snapshot()
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name             string
		canary, baseline analysis.Cohort
		slo              analysis.SLO
		want             analysis.Verdict
		reason           string
	}{
		{"too few canary requests is inconclusive", cohort(150, 0, 100*time.Millisecond), cohort(10000, 0, 100*time.Millisecond), analysis.SLO{}, analysis.Inconclusive, "too few requests"},
		{"too few baseline requests is inconclusive", cohort(10000, 0, 100*time.Millisecond), cohort(10, 0, 100*time.Millisecond), analysis.SLO{}, analysis.Inconclusive, "too few requests"},
		{"an identical canary is not worse", cohort(5000, 10, 100*time.Millisecond), cohort(5000, 10, 100*time.Millisecond), analysis.SLO{}, analysis.NotWorse, "no significant drop"},
		{"a canary failing 3% against 0.1% is worse", cohort(5000, 150, 100*time.Millisecond), cohort(50000, 50, 100*time.Millisecond), analysis.SLO{}, analysis.Worse, "success rate"},
		{"a drop within MaxSuccessDrop is not worse", cohort(20000, 60, 100*time.Millisecond), cohort(20000, 20, 100*time.Millisecond), analysis.SLO{MaxSuccessDrop: 0.01}, analysis.NotWorse, "no significant drop"},
		{"a drop on a small sample is not significant", cohort(200, 2, 100*time.Millisecond), cohort(200, 0, 100*time.Millisecond), analysis.SLO{}, analysis.NotWorse, "no significant drop"},
		{"a canary with every request failed is worse", cohort(500, 500, 100*time.Millisecond), cohort(500, 0, 100*time.Millisecond), analysis.SLO{}, analysis.Worse, "success rate 0.0000"},
		{"a canary three times slower at p99 is worse", cohort(5000, 0, 300*time.Millisecond), cohort(5000, 0, 100*time.Millisecond), analysis.SLO{}, analysis.Worse, "p99"},
		{"a canary 10% slower at p99 is not worse", cohort(5000, 0, 110*time.Millisecond), cohort(5000, 0, 100*time.Millisecond), analysis.SLO{}, analysis.NotWorse, "within"},
		{"a slower canary within the absolute slack is not worse", cohort(5000, 0, 4*time.Millisecond), cohort(5000, 0, 2*time.Millisecond), analysis.SLO{}, analysis.NotWorse, "within"},
		{"a stricter ratio catches a smaller slowdown", cohort(5000, 0, 130*time.Millisecond), cohort(5000, 0, 100*time.Millisecond), analysis.SLO{MaxP99Ratio: 1.1}, analysis.Worse, "p99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := analysis.Compare(tt.canary, tt.baseline, tt.slo)
			if res.Verdict != tt.want || !strings.Contains(strings.Join(res.Reasons, "\n"), tt.reason) {
				t.Errorf("Compare = %v %q, want %v with a reason containing %q", res.Verdict, res.Reasons, tt.want, tt.reason)
			}
		})
	}
}

func TestCompareWithoutLatencySaysSo(t *testing.T) {
	c := analysis.Cohort{Requests: 1000, Errors: 1}
	res := analysis.Compare(c, c, analysis.SLO{})
	if res.Verdict != analysis.NotWorse || !strings.Contains(strings.Join(res.Reasons, "\n"), "no latency samples") {
		t.Errorf("Compare without histograms = %v %q", res.Verdict, res.Reasons)
	}
}

func TestZCritical(t *testing.T) {
	for _, tt := range []struct {
		conf, want float64
	}{{0.95, 1.644854}, {0.99, 2.326348}, {0.5, 0}, {0.999, 3.090232}, {0.01, -2.326348}} {
		res := analysis.Compare(analysis.Cohort{}, analysis.Cohort{}, analysis.SLO{Confidence: tt.conf})
		if d := res.ZCritical - tt.want; d > 1e-5 || d < -1e-5 {
			t.Errorf("critical z at confidence %v = %v, want %v", tt.conf, res.ZCritical, tt.want)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	ms := time.Millisecond
	h := analysis.Histogram{Bounds: []time.Duration{10 * ms, 20 * ms, 40 * ms}, Counts: []uint64{50, 40, 9, 1}}
	tests := []struct {
		q    float64
		want time.Duration
		ok   bool
	}{
		{0.5, 10 * ms, true},  // the 50th of 100 is the top of the first bucket
		{0.7, 15 * ms, true},  // 20 into the 40 of (10, 20]
		{0.99, 40 * ms, true}, // the last of (20, 40]
		{1, 40 * ms, true},    // the overflow reports the largest bound
		{0.25, 5 * ms, true},  // interpolated from 0
		{0, 0, false},         // q out of range
		{1.5, 0, false},       // q out of range
	}
	for _, tt := range tests {
		got, ok := h.Quantile(tt.q)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Quantile(%v) = %v, %v; want %v, %v", tt.q, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := (analysis.Histogram{Bounds: h.Bounds, Counts: []uint64{1}}).Quantile(0.5); ok {
		t.Errorf("Quantile of a histogram with mismatched counts reported ok")
	}
	if _, ok := (analysis.Histogram{Bounds: h.Bounds, Counts: make([]uint64, 4)}).Quantile(0.5); ok {
		t.Errorf("Quantile of an empty histogram reported ok")
	}
}

func TestRecorderConcurrentAndWindowed(t *testing.T) {
	r := analysis.NewRecorder(nil)
	before := r.Snapshot()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				r.Observe(i%100 == 0, time.Duration(g+1)*time.Millisecond)
			}
		})
	}
	wg.Wait()
	w := r.Snapshot().Sub(before)
	if w.Requests != 4000 || w.Errors != 40 || w.Latency.Total() != 4000 {
		t.Errorf("window = %d requests, %d errors, %d latencies; want 4000, 40, 4000", w.Requests, w.Errors, w.Latency.Total())
	}
	if p, _ := w.Latency.Quantile(1); p < 4*time.Millisecond || p > 5*time.Millisecond {
		t.Errorf("max latency bucket = %v, want the bucket holding 4 ms", p)
	}
}

func TestFromCumulative(t *testing.T) {
	ms := time.Millisecond
	bounds := []time.Duration{10 * ms, 20 * ms, 40 * ms}
	h, err := analysis.FromCumulative(bounds, []uint64{50, 90, 99}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Counts; len(got) != 4 || got[0] != 50 || got[1] != 40 || got[2] != 9 || got[3] != 1 {
		t.Errorf("FromCumulative counts = %v, want [50 40 9 1]", got)
	}
	tests := []struct {
		name       string
		bounds     []time.Duration
		cumulative []uint64
		total      uint64
		want       string
	}{
		{"mismatched lengths", bounds, []uint64{1}, 1, "3 bounds but 1 counts"},
		{"bounds that do not ascend", []time.Duration{10 * ms, 10 * ms, 40 * ms}, []uint64{1, 2, 3}, 3, "bounds[1]"},
		{"counts that decrease", bounds, []uint64{5, 4, 6}, 6, "cumulative[1]"},
		{"a total below the last count", bounds, []uint64{1, 2, 3}, 2, "total 2"},
	}
	for _, tt := range tests {
		if _, err := analysis.FromCumulative(tt.bounds, tt.cumulative, tt.total); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: FromCumulative error = %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

func TestRecordersPerRouteAndSubset(t *testing.T) {
	var rs analysis.Recorders
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				subset := "baseline"
				if i%5 == 0 {
					subset = "v2"
				}
				rs.Get(analysis.Key{Route: "shop", Subset: subset}).Observe(g == 0 && subset == "v2", time.Millisecond)
			}
		})
	}
	wg.Wait()
	snap := rs.Snapshot()
	v2, base := snap[analysis.Key{Route: "shop", Subset: "v2"}], snap[analysis.Key{Route: "shop", Subset: "baseline"}]
	if len(snap) != 2 || v2.Requests != 400 || v2.Errors != 100 || base.Requests != 1600 || base.Errors != 0 {
		t.Errorf("snapshot = %d keys, v2 %d/%d, baseline %d/%d; want 2 keys, v2 400 requests 100 errors, baseline 1600/0",
			len(snap), v2.Requests, v2.Errors, base.Requests, base.Errors)
	}
	first, again := rs.Get(analysis.Key{Route: "shop", Subset: "v2"}), rs.Get(analysis.Key{Route: "shop", Subset: "v2"})
	if first != again {
		t.Errorf("Get returned two recorders for one key")
	}
}
