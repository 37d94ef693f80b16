package slo_test

import (
	"testing"
	"time"

	"github.com/duohuo/duohuo/slo"
)

// BenchmarkRecordAt is the gateway's per-request cost of one SLI, with the
// clock read shared with the rest of the request.
func BenchmarkRecordAt(b *testing.B) {
	c := slo.NewCounter(0)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		c.RecordAt(now, true)
	}
}

// BenchmarkRecordAtParallel records from every core into one counter.
func BenchmarkRecordAtParallel(b *testing.B) {
	c := slo.NewCounter(0)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.RecordAt(now, true)
		}
	})
}

// BenchmarkRecord reads the clock itself.
func BenchmarkRecord(b *testing.B) {
	c := slo.NewCounter(0)
	b.ReportAllocs()
	for b.Loop() {
		c.Record(true)
	}
}

func BenchmarkObserveAt(b *testing.B) {
	h := slo.NewHistogram(5 * time.Minute)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		h.ObserveAt(now, 37*time.Millisecond)
	}
}

// BenchmarkEvaluate is the cost of one objective's report (a scrape or a
// /v1/health call does one per SLI).
func BenchmarkEvaluate(b *testing.B) {
	c := slo.NewCounter(0)
	now := time.Now()
	for i := range 1000 {
		c.RecordAt(now.Add(time.Duration(i)*time.Minute), i%100 != 0)
	}
	obj := slo.Objective{Target: 0.999}
	at := now.Add(1000 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		obj.Evaluate(c, at)
	}
}
