package balancer_test

import (
	"math"
	"testing"
	"time"

	"github.com/duohuo/duohuo/balancer"
)

// attempt is one Pick and its Done, after the clock moved by advance.
type attempt struct {
	advance time.Duration
	latency time.Duration
	result  balancer.Result
}

// Success rates after a history, in the 1/16 steps of Stats.Success.
const (
	afterF  = 15.0 / 16                     // one failure
	afterFS = afterF*15/16 + 1.0/16         // a failure, then a success
	afterFF = afterF * 15 / 16              // two failures
	slowRTT = 100 * time.Millisecond        // the history's latency
	fastRTT = time.Millisecond              // a refusal, a cancelled request
	slower  = 300 * time.Millisecond        // a timeout, a slow 5xx
	decayed = 2 * balancer.DefaultDecayTime // the estimate falls to e^-2
)

// slowHistory is a slow success then a slow failure: estimate 100ms,
// success 15/16.
var slowHistory = []attempt{{0, slowRTT, balancer.Succeeded}, {0, slowRTT, balancer.Failed}}

func TestDoneByResult(t *testing.T) {
	for _, c := range []struct {
		name string
		last attempt
		// sameLatency: the estimate is what it would be without the last
		// attempt; otherwise it is wantLatency.
		sameLatency bool
		wantLatency time.Duration
		wantSuccess float64
	}{
		{"Neutral changes neither latency nor success when fast", attempt{0, fastRTT, balancer.Neutral}, true, 0, afterF},
		{"Neutral changes neither latency nor success when slow", attempt{0, time.Second, balancer.Neutral}, true, 0, afterF},
		{"Neutral changes nothing after the estimate decayed", attempt{decayed, time.Second, balancer.Neutral}, true, 0, afterF},
		{"Failed fast after a slow history records a failure and keeps the estimate", attempt{0, fastRTT, balancer.Failed}, true, 0, afterFF},
		{"Failed fast after the estimate decayed does not lower it", attempt{decayed, fastRTT, balancer.Failed}, true, 0, afterFF},
		{"Failed slower raises the estimate at once", attempt{0, slower, balancer.Failed}, false, slower, afterFF},
		{"Failed slower than the decayed estimate raises it", attempt{decayed, 50 * time.Millisecond, balancer.Failed}, false, 50 * time.Millisecond, afterFF},
		{"Succeeded slower raises the estimate at once", attempt{0, slower, balancer.Succeeded}, false, slower, afterFS},
		{"Succeeded faster with no time passed keeps the estimate", attempt{0, fastRTT, balancer.Succeeded}, false, slowRTT, afterFS},
		// Picked at τ, answered 10ms later; the history's last answer was at
		// 100ms: the old estimate weighs e^(-(τ+10ms-100ms)/τ).
		{"Succeeded faster one τ later is averaged in", attempt{balancer.DefaultDecayTime, 10 * time.Millisecond, balancer.Succeeded}, false,
			time.Duration(100e6*math.Exp(-9910.0/10000) + 10e6*(1-math.Exp(-9910.0/10000))), afterFS},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, clock, id := resultBalancer(t)
			twin, twinClock, _ := resultBalancer(t) // the same history, without the last attempt
			for _, a := range slowHistory {
				do(t, b, clock, a)
				do(t, twin, twinClock, a)
			}
			clock.Advance(c.last.advance)
			twinClock.Advance(c.last.advance)

			p, err := b.Pick(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s, _ := b.Stats(id); s.InFlight != 1 {
				t.Fatalf("before Done: InFlight = %d, want 1", s.InFlight)
			}
			p.Done(c.last.latency, c.last.result)
			got, _ := b.Stats(id)
			want := balancer.Stats{Latency: c.wantLatency, Success: c.wantSuccess}
			if c.sameLatency {
				ts, _ := twin.Stats(id)
				want.Latency = ts.Latency
			}
			// float32 storage: relative error well under 1e-4.
			if got.InFlight != 0 || math.Abs(float64(got.Latency-want.Latency)) > float64(want.Latency)*1e-4 || math.Abs(got.Success-want.Success) > 1e-4 {
				t.Fatalf("Done(%v, %v): Stats = %+v, want %+v", c.last.latency, c.last.result, got, want)
			}
		})
	}
}

// resultBalancer returns a balancer of one instance on a manual clock.
func resultBalancer(t *testing.T) (*balancer.Balancer, *manualClock, string) {
	t.Helper()
	clock := new(manualClock)
	ep := endpoint(1, local, true, 100)
	return newBalancer(t, balancer.Config{Local: local, Now: clock.Now}, []balancer.Endpoint{ep}), clock, ep.Instance.ID
}

func do(t *testing.T, b *balancer.Balancer, clock *manualClock, a attempt) {
	t.Helper()
	clock.Advance(a.advance)
	p, err := b.Pick(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Done(a.latency, a.result)
}

func TestNeutralReleasesOnlyItsOwnInFlight(t *testing.T) {
	b, _, id := resultBalancer(t)
	held, err := b.Pick(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Pick(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Done(time.Second, balancer.Neutral)
	if s, _ := b.Stats(id); s.InFlight != 1 {
		t.Fatalf("after one of two picks ended Neutral: InFlight = %d, want 1", s.InFlight)
	}
	held.Done(time.Millisecond, balancer.Succeeded)
	if s, _ := b.Stats(id); s.InFlight != 0 {
		t.Fatalf("after both ended: InFlight = %d, want 0", s.InFlight)
	}
}

func TestDoneDoesNotAllocate(t *testing.T) {
	b, _, _ := resultBalancer(t)
	for _, r := range []balancer.Result{balancer.Succeeded, balancer.Failed, balancer.Neutral} {
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := b.Pick(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(time.Millisecond, r)
		})
		if allocs != 0 {
			t.Errorf("Pick+Done(%v) allocates %v times per run, want 0", r, allocs)
		}
	}
}

func TestResultStrings(t *testing.T) {
	for r, want := range map[balancer.Result]string{
		balancer.Succeeded:  "succeeded",
		balancer.Failed:     "failed",
		balancer.Neutral:    "neutral",
		balancer.Result(42): "result(42)",
	} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", uint8(r), got, want)
		}
	}
}
