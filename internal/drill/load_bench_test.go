package drill

import (
	"testing"
	"time"
)

// Record runs once per request of the load, from the request's goroutine.
func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			d += 12345
			h.Record(d)
		}
	})
}

// The whole per-request cost of the generator, with a target that answers
// at once.
func BenchmarkLoadPerRequest(b *testing.B) {
	b.ReportAllocs()
	rate := 10_000_000 // ticks 100ns apart: the generator, not the schedule, is the limit
	l := Load{Rate: rate, Duration: time.Duration(b.N) * time.Second / time.Duration(rate)}
	if l.Count() == 0 {
		l.Duration = time.Second / time.Duration(rate)
	}
	b.ResetTimer()
	if _, err := l.Run(b.Context(), instant); err != nil {
		b.Fatal(err)
	}
}

// TimeToRecover slides a one-second window over a run in 10ms steps.
func BenchmarkTimeToRecover(b *testing.B) {
	s := run(60*time.Second, 15*time.Second, 16*time.Second)
	b.ReportAllocs()
	for b.Loop() {
		TimeToRecover(s, 15*time.Second, 45*time.Second)
	}
}
