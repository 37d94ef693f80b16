package analysis_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/gray/analysis"
)

// A canary that fails 2% of requests against a baseline at 0.1% is worse;
// with only 50 requests it would be inconclusive.
func Example() {
	canary, baseline := analysis.NewRecorder(nil), analysis.NewRecorder(nil)
	for i := range 5000 {
		canary.Observe(i%50 == 0, 40*time.Millisecond)
		baseline.Observe(i%1000 == 0, 40*time.Millisecond)
	}
	res := analysis.Compare(canary.Snapshot(), baseline.Snapshot(), analysis.SLO{})
	fmt.Println(res.Verdict)
	fmt.Println(res.Reasons[0])

	small := analysis.NewRecorder(nil)
	for range 50 {
		small.Observe(false, 40*time.Millisecond)
	}
	fmt.Println(analysis.Compare(small.Snapshot(), baseline.Snapshot(), analysis.SLO{}).Verdict)
	// Output:
	// worse
	// success rate 0.9800 vs baseline 0.9990: a drop above 0.0050 (z = 6.90 > 1.64)
	// inconclusive
}
