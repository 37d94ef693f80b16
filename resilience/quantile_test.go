package resilience_test

import (
	"testing"
	"time"

	"github.com/duohuo/duohuo/resilience"
)

func TestLatenciesQuantile(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := resilience.NewLatencies(10*time.Second, c.now)
	if _, ok := l.Quantile(0.95, 10); ok {
		t.Fatal("Quantile with no observations = ok, want not enough")
	}
	// 1ms … 100ms, one each: p50 ≈ 50ms, p95 ≈ 95ms.
	for i := 1; i <= 100; i++ {
		l.Observe(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.95, 95 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got, ok := l.Quantile(tc.q, 10)
		if !ok || got < tc.want || float64(got) > float64(tc.want)*1.13 {
			t.Errorf("Quantile(%v) = %v, %v; want within [%v, +13%%]", tc.q, got, ok, tc.want)
		}
	}
	// Two windows later the old observations are gone.
	c.add(25 * time.Second)
	if _, ok := l.Quantile(0.95, 10); ok {
		t.Error("Quantile after two windows = ok, want the old observations forgotten")
	}
	for i := 0; i < 20; i++ {
		l.Observe(time.Second)
	}
	if got, ok := l.Quantile(0.5, 10); !ok || got < time.Second || got > 1130*time.Millisecond {
		t.Errorf("Quantile after the change = %v, %v; want about 1s", got, ok)
	}
}

func TestLatenciesExtremes(t *testing.T) {
	l := resilience.NewLatencies(0, nil)
	l.Observe(0)
	l.Observe(-time.Second)
	l.Observe(1000 * time.Hour)
	if _, ok := l.Quantile(0.99, 1); !ok {
		t.Error("Quantile = not ok with 3 observations")
	}
}

func BenchmarkLatenciesObserve(b *testing.B) {
	l := resilience.NewLatencies(0, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Millisecond
		for pb.Next() {
			l.Observe(d)
		}
	})
}
