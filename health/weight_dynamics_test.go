package health_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/health"
)

// traffic reports one second of traffic: every instance answers 20 requests
// in 10ms, except those listed in slow (latency) or failing (share of 5xx).
func traffic(tr *health.Tracker, n int, slow map[string]time.Duration, failing map[string]float64) {
	for i := range n {
		id := fmt.Sprintf("i%d", i)
		lat := 10 * time.Millisecond
		if d, ok := slow[id]; ok {
			lat = d
		}
		for k := range 20 {
			c := health.Success
			if float64(k) < failing[id]*20 {
				c = health.ServerError
			}
			tr.Observe(id, health.Outcome{Class: c, Latency: lat})
		}
	}
	time.Sleep(time.Second)
	synctest.Wait()
}

func TestSlowInstanceLosesWeightAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 5, health.OutlierConfig{})
		traffic(tr, 5, nil, nil)
		if w := mustState(t, tr, "i0").Weight; w != 100 {
			t.Fatalf("steady weight %d, want 100", w)
		}

		slow := map[string]time.Duration{"i0": 100 * time.Millisecond}
		traffic(tr, 5, slow, nil)
		s := mustState(t, tr, "i0")
		if s.Weight != 10 || s.Latency != 100*time.Millisecond {
			t.Fatalf("one second after i0 turned 10× slower: %+v, want weight 10, latency 100ms", s)
		}
		if w := mustState(t, tr, "i1").Weight; w != 100 {
			t.Fatalf("a normal instance's weight moved to %d, want 100", w)
		}

		last := s.Weight
		for sec := range 30 {
			traffic(tr, 5, nil, nil)
			w := mustState(t, tr, "i0").Weight
			if w < last {
				t.Fatalf("recovering: weight fell from %d to %d after %ds", last, w, sec+1)
			}
			last = w
		}
		if last < 95 {
			t.Fatalf("30s after i0 recovered its weight is %d, want ≥ 95", last)
		}
	})
}

func TestFailingInstanceLosesWeightAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Consecutive detectors off: this is about the weight alone.
		tr := passive(t, 5, health.OutlierConfig{Consecutive5xx: -1, ConsecutiveGatewayFailure: -1, SuccessRateMinimumHosts: -1})
		traffic(tr, 5, nil, map[string]float64{"i0": 0.5})
		if s := mustState(t, tr, "i0"); s.Weight != 25 || s.SuccessRate != 0.5 {
			t.Fatalf("at 50%% success: %+v, want weight 25 (0.5²)", s)
		}
		for range 30 {
			traffic(tr, 5, nil, nil)
		}
		if s := mustState(t, tr, "i0"); s.Weight < 95 {
			t.Fatalf("30s after recovering: %+v, want weight ≥ 95", s)
		}
	})
}

func TestEjectedAndProbationWeights(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		observe(tr, "i0", health.GatewayFailure, 5)
		if w := mustState(t, tr, "i0").Weight; w != 0 {
			t.Fatalf("ejected weight %d, want 0", w)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		// The gateway failures left the success rate at 0, so the
		// probation weight is 0.25 × the 5% floor, at least 1.
		if s := mustState(t, tr, "i0"); s.Status != health.Probation || s.Weight != 1 {
			t.Fatalf("in probation: %+v, want weight 1", s)
		}
	})
}
