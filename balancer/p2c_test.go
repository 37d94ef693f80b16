package balancer_test

import (
	"math"
	"testing"
	"time"

	"github.com/duohuo/duohuo/balancer"
)

const tau = balancer.DefaultDecayTime

// observe picks until id comes up, lets latency pass on clock and reports
// it; other picks are finished at once with their current estimate (no
// change).
func observe(t *testing.T, b *balancer.Balancer, clock *manualClock, id string, latency time.Duration) {
	t.Helper()
	for range 10_000 {
		p, err := b.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Instance.ID == id {
			clock.Advance(latency)
			p.Done(latency, balancer.Succeeded)
			return
		}
		s, _ := b.Stats(p.Instance.ID)
		p.Done(s.Latency, balancer.Succeeded)
	}
	t.Fatalf("%s never picked", id)
}

func TestPeakEWMAEstimate(t *testing.T) {
	e := math.Exp(-1)
	tests := []struct {
		name string
		// Each step advances the clock, then (if rtt > 0) picks and
		// answers after rtt more.
		steps []struct {
			advance time.Duration
			rtt     time.Duration // 0: no observation
		}
		want time.Duration
	}{
		{"starts at the default RTT", nil, balancer.DefaultRTT},
		{"a slower observation replaces the estimate at once (peak)",
			[]struct{ advance, rtt time.Duration }{{0, 100 * time.Millisecond}}, 100 * time.Millisecond},
		{"a faster observation one τ later weighs 1-1/e",
			[]struct{ advance, rtt time.Duration }{{0, 100 * time.Millisecond}, {tau - 10*time.Millisecond, 10 * time.Millisecond}},
			time.Duration(e*100e6 + (1-e)*10e6)},
		{"a faster observation right after changes almost nothing",
			[]struct{ advance, rtt time.Duration }{{0, 100 * time.Millisecond}, {0, time.Millisecond}}, time.Duration(100e6*math.Exp(-0.0001) + 1e6*(1-math.Exp(-0.0001)))},
		{"an idle estimate decays towards zero: e^-2 after 2τ",
			[]struct{ advance, rtt time.Duration }{{0, 100 * time.Millisecond}, {2 * tau, 0}}, time.Duration(100e6 * e * e)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := new(manualClock)
			ep := endpoint(1, local, true, 100)
			b := newBalancer(t, balancer.Config{Now: clock.Now}, []balancer.Endpoint{ep})
			for _, s := range tc.steps {
				clock.Advance(s.advance)
				if s.rtt > 0 {
					observe(t, b, clock, ep.Instance.ID, s.rtt)
				}
			}
			got, _ := b.Stats(ep.Instance.ID)
			// float32 storage: relative error well under 1e-4.
			if math.Abs(float64(got.Latency-tc.want)) > float64(tc.want)*1e-4 {
				t.Errorf("Stats().Latency = %v, want %v", got.Latency, tc.want)
			}
		})
	}
}

// TestPeakEWMAAvoidsTheSlowInstance: with two fast instances and one slow,
// power of two choices never sends to the slow one while it is idle and
// slower, and sends to it again once the others are loaded.
func TestPeakEWMAAvoidsTheSlowInstance(t *testing.T) {
	clock := new(manualClock)
	eps := []balancer.Endpoint{endpoint(1, local, true, 100), endpoint(2, local, true, 100), endpoint(3, local, true, 100)}
	slow := eps[2].Instance.ID
	b := newBalancer(t, balancer.Config{Local: local, Now: clock.Now, Rand: seeded(7)}, eps)
	clock.Advance(10 * tau) // let the first observations replace the default RTT
	latency := map[string]time.Duration{eps[0].Instance.ID: 10 * time.Millisecond, eps[1].Instance.ID: 12 * time.Millisecond, slow: 100 * time.Millisecond}
	for id, l := range latency {
		observe(t, b, clock, id, l)
	}

	for range 1000 {
		p, err := b.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Instance.ID == slow {
			t.Fatalf("idle fast instances available, but the slow one was picked")
		}
		p.Done(latency[p.Instance.ID], balancer.Succeeded)
	}

	// Hold requests in flight: cost = latency × (in-flight + 1) makes the
	// fast instances dearer than the idle slow one (10ms × 11 > 100ms).
	var held []balancer.Pick
	slowPicked := false
	for range 40 {
		p, err := b.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, p)
		if p.Instance.ID == slow {
			slowPicked = true
			break
		}
	}
	if !slowPicked {
		t.Errorf("with 40 requests in flight on the fast instances the slow one was never picked")
	}
	for _, p := range held {
		p.Done(latency[p.Instance.ID], balancer.Succeeded)
	}
}

// TestPeakEWMARetriesARecoveredInstance: an instance that was slow and then
// received nothing for several τ looks cheap again and gets traffic, so
// that a recovered instance is noticed (Finagle's decay).
func TestPeakEWMARetriesARecoveredInstance(t *testing.T) {
	clock := new(manualClock)
	eps := []balancer.Endpoint{endpoint(1, local, true, 100), endpoint(2, local, true, 100)}
	fast, slow := eps[0].Instance.ID, eps[1].Instance.ID
	b := newBalancer(t, balancer.Config{Local: local, Now: clock.Now, Rand: seeded(8)}, eps)
	clock.Advance(10 * tau) // let the first observations replace the default RTT
	observe(t, b, clock, fast, 10*time.Millisecond)
	observe(t, b, clock, slow, time.Second)
	for step := range 100 {
		clock.Advance(time.Second)
		p, err := b.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Instance.ID == slow {
			// 1s × e^(-t/10s) falls below 10ms after t = 10s × ln 100 ≈ 46s.
			if step+1 < 40 {
				t.Fatalf("slow instance retried after %ds, before its estimate could fall below the fast one's", step+1)
			}
			p.Done(10*time.Millisecond, balancer.Succeeded)
			return
		}
		p.Done(10*time.Millisecond, balancer.Succeeded)
	}
	t.Fatalf("slow instance never retried in 100s of fast answers (τ = %v)", tau)
}

func TestLeastRequestPrefersFewerInFlightPerWeight(t *testing.T) {
	tests := []struct {
		name       string
		weights    [2]uint32
		inflight   [2]int
		wantSecond bool // the second instance must win every pick
	}{
		{"equal weights: fewer in flight wins", [2]uint32{100, 100}, [2]int{3, 1}, true},
		{"double weight carries double load: 4 in flight on 200 beats 3 on 100", [2]uint32{100, 200}, [2]int{3, 4}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps := []balancer.Endpoint{endpoint(1, local, true, tc.weights[0]), endpoint(2, local, true, tc.weights[1])}
			b := newBalancer(t, balancer.Config{Local: local, Policy: balancer.LeastRequest, Rand: seeded(9)}, eps)
			// Load the instances by picking with the other one excluded.
			var held []balancer.Pick
			for i, n := range tc.inflight {
				other := eps[1-i].Instance.ID
				for range n {
					p, err := b.Pick(nil, func(id string) bool { return id == other })
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, p)
				}
			}
			for range 200 {
				p, err := b.Pick(nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if want := eps[1].Instance.ID; tc.wantSecond && p.Instance.ID != want {
					t.Fatalf("Pick = %s, want %s", p.Instance.ID, want)
				}
				p.Done(time.Millisecond, balancer.Succeeded)
			}
			for _, p := range held {
				p.Done(time.Millisecond, balancer.Succeeded)
			}
		})
	}
}
