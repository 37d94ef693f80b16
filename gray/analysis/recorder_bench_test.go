package analysis_test

import (
	"testing"
	"time"

	"github.com/duohuo/duohuo/gray/analysis"
)

// BenchmarkObserve is the request path's cost of recording one outcome.
func BenchmarkObserve(b *testing.B) {
	r := analysis.NewRecorder(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := 37 * time.Millisecond
		for pb.Next() {
			r.Observe(false, d)
		}
	})
}

func BenchmarkCompare(b *testing.B) {
	c, base := cohort(5000, 20, 120*time.Millisecond), cohort(50000, 50, 100*time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		analysis.Compare(c, base, analysis.SLO{})
	}
}
