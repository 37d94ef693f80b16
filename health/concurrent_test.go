package health_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/health"
)

// TestConcurrentObserveUpdateAndReads runs the hot path, the control path
// and the readers at once, for the race detector and goleak: Observe from
// several goroutines while Update grows and shrinks the set and readers
// take snapshots.
func TestConcurrentObserveUpdateAndReads(t *testing.T) {
	tr, err := health.New(health.Config{
		Probe:   health.ProbeConfig{Disabled: true},
		Outlier: health.OutlierConfig{MaxEjectionPercent: 50, MaxGatewayEjectionPercent: 50, Interval: 5 * time.Millisecond},
		Weight:  health.WeightConfig{Interval: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tr.Update(viewOf(8))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20000 {
				c := health.Class((i + w) % 4)
				tr.Observe(fmt.Sprintf("i%d", i%10), health.Outcome{Class: c, Latency: time.Duration(i%50) * time.Microsecond})
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			tr.Update(viewOf(4 + i%6))
		}
	})
	wg.Go(func() {
		for range 2000 {
			for _, s := range tr.Snapshot() {
				if s.Status.InService() != (s.Weight > 0) && s.Configured > 0 {
					t.Errorf("state %+v: in service must mean a non-zero weight", s)
					return
				}
			}
		}
	})
	wg.Wait()
	ejected := 0
	states := tr.Snapshot()
	for _, s := range states {
		if s.Status == health.Ejected {
			ejected++
		}
	}
	if ejected*100 > 50*len(states) {
		t.Fatalf("%d of %d instances ejected, above the 50%% cap", ejected, len(states))
	}
}
