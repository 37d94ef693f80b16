package slo_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/slo"
)

// A 99.9% availability objective under a burst of errors: 10% of the
// requests of the last ten minutes failed, a burn 100 times faster than
// the budget allows, which pages.
func Example() {
	avail := slo.NewCounter(slo.DefaultPeriod)
	obj := slo.Objective{Target: 0.999}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for m := range 60 {
		at := start.Add(time.Duration(m) * time.Minute)
		for i := range 100 {
			avail.RecordAt(at, !(m >= 50 && i < 10))
		}
	}
	r := obj.Evaluate(avail, start.Add(59*time.Minute))
	for _, b := range r.Burns[:3] {
		fmt.Printf("burn over %v: %.1f\n", b.Window, b.Rate)
	}
	for _, a := range r.Firing {
		fmt.Printf("firing: %s (%v and %v above %v×)\n", a.Severity, a.Long, a.Short, a.Burn)
	}
	fmt.Printf("budget remaining: %.0f%%\n", 100*r.BudgetRemaining)

	score := slo.ScoreConfig{}.Score(slo.Inputs{
		Availability: slo.Value(r.Burns[0].Rate),
		Drift:        slo.Value(slo.Drift(180*time.Millisecond, 120*time.Millisecond)),
	})
	fmt.Printf("health score: %.2f\n", score.Value)
	// Output:
	// burn over 5m0s: 100.0
	// burn over 30m0s: 32.3
	// burn over 1h0m0s: 16.7
	// firing: page (1h0m0s and 5m0s above 14.4×)
	// firing: page (6h0m0s and 30m0s above 6×)
	// firing: ticket (72h0m0s and 6h0m0s above 1×)
	// budget remaining: -1567%
	// health score: 0.33
}
