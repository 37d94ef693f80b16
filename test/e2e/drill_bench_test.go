package e2e

import (
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/drill"
)

// BenchmarkDrill is the long version of the drill tests: each scenario for
// 60s at 200 rps, as `duohuo drill --scenario all --duration 60s` runs it,
// with the fault phase's figures as metrics. Run it alone:
//
//	go test -run '^$' -bench Drill -benchtime 1x ./test/e2e
func BenchmarkDrill(b *testing.B) {
	for _, sc := range drill.Scenarios {
		b.Run(sc.Name, func(b *testing.B) {
			for b.Loop() {
				rep, err := drill.Run(b.Context(), drill.Options{Scenarios: []drill.Scenario{sc}, Rate: 200, Duration: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				sr := rep.Scenarios[0]
				p := sr.Phases[0]
				if f, ok := sr.Phase("fault"); ok {
					p = f
				}
				b.ReportMetric(100*p.SuccessRate, "success%")
				b.ReportMetric(float64(p.P99)/1e6, "p99-ms")
				b.ReportMetric(p.AttemptsPerRequest, "attempts/req")
				if sr.Fault != nil {
					b.ReportMetric(float64(sr.Fault.TimeToRecover)/1e6, "recover-ms")
				}
			}
		})
	}
}
