package console

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0.01, 0.1, 1}
	tests := []struct {
		name      string
		q         float64
		cur, prev []float64
		want      float64
	}{
		{"nothing observed", 0.5, []float64{0, 0, 0, 0}, nil, 0},
		{"all in the first bucket", 0.5, []float64{10, 10, 10, 10}, nil, 0.005},
		{"interpolated in the second bucket", 0.5, []float64{0, 10, 10, 10}, nil, 0.055},
		{"p99 in the +Inf bucket is the last bound", 0.99, []float64{0, 0, 0, 10}, nil, 1},
		{"only the window counts", 0.5, []float64{10, 20, 20, 20}, []float64{10, 10, 10, 10}, 0.055},
		{"wrong length", 0.5, []float64{1}, nil, 0},
	}
	for _, tc := range tests {
		if got := quantile(tc.q, bounds, tc.cur, tc.prev); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: quantile(%v, %v, %v) = %v, want %v", tc.name, tc.q, tc.cur, tc.prev, got, tc.want)
		}
	}
}

func TestSamplerRatesAndSparklines(t *testing.T) {
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRequests}, []string{"route", "service", "cloud", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricDuration, Buckets: []float64{.001, .01, .1}}, []string{"route", "service", "cloud"})
	att := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricAttempts}, []string{"service", "instance", "cloud", "result"})
	reg.MustRegister(req, dur, att)
	s := newSampler(reg)
	t0 := time.Unix(1000, 0)
	s.sample(t0)
	for i := 1; i <= 3; i++ {
		req.WithLabelValues("shop", "demo", "ctyun", "2xx").Add(90)
		req.WithLabelValues("shop", "demo", "ctyun", "5xx").Add(10)
		for range 100 {
			dur.WithLabelValues("shop", "demo", "ctyun").Observe(0.005)
		}
		att.WithLabelValues("demo", "a:1", "ctyun", "success").Add(90)
		att.WithLabelValues("demo", "a:1", "ctyun", "server_error").Add(10)
		att.WithLabelValues("demo", "a:1", "ctyun", "canceled").Add(50)
		s.sample(t0.Add(time.Duration(i) * time.Second))
	}
	for _, routes := range []bool{true, false} {
		tr := s.traffic(routes)
		if len(tr) != 1 {
			t.Fatalf("traffic(%v) = %+v, want one series", routes, tr)
		}
		se := tr[0]
		if se.RPS != 100 || se.ErrorRatio != 0.1 || se.Total != 300 {
			t.Errorf("traffic(%v): rps %v, errors %v, total %v; want 100, 0.1, 300", routes, se.RPS, se.ErrorRatio, se.Total)
		}
		if se.P50Ms <= 1 || se.P50Ms > 10 || se.P99Ms <= 1 || se.P99Ms > 10 {
			t.Errorf("traffic(%v): p50 %v ms, p99 %v ms, want both in (1, 10]", routes, se.P50Ms, se.P99Ms)
		}
		if len(se.RPSSpark) != 3 || se.RPSSpark[2] != 100 || se.ErrSpark[2] != 10 {
			t.Errorf("traffic(%v): sparks %v %v, want 3 points ending at 100 and 10", routes, se.RPSSpark, se.ErrSpark)
		}
	}
	if r := s.instanceRates()["a:1"]; r != [2]float64{100, 0.1} {
		t.Errorf("instanceRates[a:1] = %v, want 100/s with 10%% failed (canceled attempts left out)", r)
	}
}

func TestSamplerMemoryIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	req := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricRequests}, []string{"route", "service", "cloud", "code"})
	reg.MustRegister(req)
	for i := range maxKeys * 2 {
		req.WithLabelValues("r"+string(rune('A'+i%26))+string(rune('a'+i/26)), "s", "c", "2xx").Inc()
	}
	s := newSampler(reg)
	for i := range ringSize + 10 {
		s.sample(time.Unix(int64(i), 0))
	}
	if got := len(s.traffic(true)); got > maxKeys+1 {
		t.Errorf("routes kept = %d, want at most %d and other", got, maxKeys)
	}
	if s.at(ringSize) != nil || s.at(ringSize-1) == nil {
		t.Errorf("the ring keeps other than %d samples", ringSize)
	}
	if n := len(s.traffic(true)[0].RPSSpark); n != sparkLen {
		t.Errorf("sparkline of %d points, want %d", n, sparkLen)
	}
}
