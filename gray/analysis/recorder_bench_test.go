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

// BenchmarkRecordersGetObserve is the request path's cost with the
// per-route × subset lookup.
func BenchmarkRecordersGetObserve(b *testing.B) {
	var rs analysis.Recorders
	for _, s := range []string{"baseline", "v2", "gray"} {
		rs.Get(analysis.Key{Route: "shop", Subset: s})
	}
	k := analysis.Key{Route: "shop", Subset: "v2"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rs.Get(k).Observe(false, 37*time.Millisecond)
		}
	})
}
