package breaker_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/breaker"
)

// op is one action of a random sequence.
type op struct {
	kind    uint8 // 0 Allow, 1 Done, 2 sleep
	pick    int   // which outstanding ticket Done ends
	class   breaker.Class
	latency time.Duration
	sleep   time.Duration
}

// checkSequence runs ops against a breaker made from cfg and checks the
// state machine's invariants after every step:
//   - a half-open breaker never has more probes admitted than
//     HalfOpenProbes, not counting canceled probes, whose slots are freed;
//   - transitions are closed→open, open→half_open, half_open→closed or
//     half_open→open, numbered by consecutive generations;
//   - when noFailures is set (no failure class, no slow call), the breaker
//     never leaves closed.
func checkSequence(t *testing.T, cfg breaker.Config, ops []op, noFailures bool) {
	t.Helper()
	probes := cfg.HalfOpenProbes
	if probes == 0 {
		probes = 3
	}
	var events []breaker.Event
	admitted, period := 0, 0 // probes holding a slot in the current half-open period
	cfg.OnStateChange = func(e breaker.Event) {
		events = append(events, e)
		if e.To == breaker.HalfOpen {
			admitted = 0
			period++
		}
	}
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []breaker.Ticket
	var periods []int // the half-open period of each probe in out, 0 for others
	for i, o := range ops {
		switch o.kind {
		case 0:
			tk, err := b.Allow()
			if err != nil {
				continue
			}
			out = append(out, tk)
			periods = append(periods, 0)
			if tk.Probe() {
				periods[len(periods)-1] = period
				admitted++
				if admitted > probes {
					t.Fatalf("step %d: %d probes admitted in one half-open period, at most %d allowed", i, admitted, probes)
				}
			} else if s := b.State(); s != breaker.Closed {
				t.Fatalf("step %d: a non-probe ticket from a %v breaker", i, s)
			}
		case 1:
			if len(out) == 0 {
				continue
			}
			k := o.pick % len(out)
			frees := o.class == breaker.Canceled && periods[k] == period && b.State() == breaker.HalfOpen
			b.Done(out[k], o.class, o.latency)
			if frees {
				admitted--
			}
			out = append(out[:k], out[k+1:]...)
			periods = append(periods[:k], periods[k+1:]...)
		case 2:
			time.Sleep(o.sleep)
		}
	}
	for i, e := range events {
		valid := e.From == breaker.Closed && e.To == breaker.Open ||
			e.From == breaker.Open && e.To == breaker.HalfOpen ||
			e.From == breaker.HalfOpen && (e.To == breaker.Closed || e.To == breaker.Open)
		if !valid {
			t.Fatalf("event %d: transition %v→%v", i, e.From, e.To)
		}
		if e.Generation != uint32(i+2) {
			t.Fatalf("event %d has generation %d, want %d", i, e.Generation, i+2)
		}
		if i > 0 && events[i-1].To != e.From {
			t.Fatalf("event %d starts from %v, the previous one ended in %v", i, e.From, events[i-1].To)
		}
	}
	if noFailures && len(events) > 0 {
		t.Fatalf("no failure and no slow call, yet the breaker changed state: %+v", events[0])
	}
}

var allClasses = []breaker.Class{
	breaker.Success, breaker.ClientError, breaker.Canceled,
	breaker.Network, breaker.Timeout, breaker.Overload, breaker.ServerError,
}

func randomOps(r *rand.Rand, n int, classes []breaker.Class, maxLatency time.Duration) []op {
	ops := make([]op, n)
	for i := range ops {
		ops[i] = op{
			kind:    uint8(r.IntN(3)),
			pick:    r.IntN(8),
			class:   classes[r.IntN(len(classes))],
			latency: time.Duration(r.Int64N(int64(maxLatency) + 1)),
			sleep:   time.Duration(r.Int64N(int64(3 * time.Second))),
		}
		if ops[i].kind == 2 && r.IntN(4) != 0 { // mostly calls, some pauses
			ops[i].kind = uint8(r.IntN(2))
		}
	}
	return ops
}

func randomConfig(r *rand.Rand) breaker.Config {
	return breaker.Config{
		ConsecutiveFailures: r.IntN(10) - 1,
		FailureRatio:        []float64{-1, 0, 0.1, 0.9, 1}[r.IntN(5)],
		MinRequests:         r.IntN(30),
		SlowCallThreshold:   time.Duration(r.IntN(3)) * 100 * time.Millisecond,
		SlowCallRatio:       r.Float64(),
		Window:              time.Duration(1+r.IntN(20)) * time.Second,
		Buckets:             1 + r.IntN(20),
		OpenTimeout:         time.Duration(r.IntN(5)) * time.Second,
		HalfOpenProbes:      r.IntN(6),
	}
}

func TestPropertyRandomSequencesKeepTheInvariants(t *testing.T) {
	for seed := range uint64(300) {
		synctest.Test(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			cfg := randomConfig(r)
			checkSequence(t, cfg, randomOps(r, 400, allClasses, 300*time.Millisecond), false)
		})
	}
}

func TestPropertyClientErrorsNeverTrip(t *testing.T) {
	harmless := []breaker.Class{breaker.Success, breaker.ClientError, breaker.Canceled}
	for seed := range uint64(300) {
		synctest.Test(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			cfg := randomConfig(r)
			cfg.SlowCallThreshold = time.Second // and every call is faster
			checkSequence(t, cfg, randomOps(r, 400, harmless, time.Second-1), true)
		})
	}
}

func TestConcurrentHalfOpenAdmitsAtMostTheProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := breaker.New(breaker.Config{HalfOpenProbes: 4})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			tk, _ := b.Allow()
			b.Done(tk, breaker.Network, 0)
		}
		time.Sleep(5 * time.Second)
		var admitted atomic.Int64
		tickets := make(chan breaker.Ticket, 64)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					if tk, err := b.Allow(); err == nil {
						admitted.Add(1)
						tickets <- tk
					}
				}
			})
		}
		wg.Wait()
		close(tickets)
		if n := admitted.Load(); n != 4 {
			t.Fatalf("800 concurrent Allow calls on a half-open breaker admitted %d, want exactly 4", n)
		}
		for tk := range tickets {
			wg.Go(func() { b.Done(tk, breaker.Success, 0) })
		}
		wg.Wait()
		if s := b.State(); s != breaker.Closed {
			t.Fatalf("State() after 4 concurrent good probes = %v, want closed", s)
		}
	})
}

func TestConcurrentTripsOpenOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var opened atomic.Int64
		b, err := breaker.New(breaker.Config{OnStateChange: func(e breaker.Event) {
			if e.To == breaker.Open {
				opened.Add(1)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 200 {
					if tk, err := b.Allow(); err == nil {
						b.Done(tk, breaker.ServerError, 0)
					}
				}
			})
		}
		wg.Wait()
		if n := opened.Load(); n != 1 {
			t.Fatalf("concurrent failures opened the breaker %d times, want once", n)
		}
	})
}

// FuzzBreaker drives the state machine with arbitrary operation sequences
// and checks the invariants of checkSequence.
func FuzzBreaker(f *testing.F) {
	f.Add([]byte{0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 2, 50, 0, 0, 1, 0})
	f.Add([]byte{4, 2, 0, 0, 0, 1, 5, 1, 6, 2, 200, 0, 0, 0, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		cfg := breaker.Config{
			ConsecutiveFailures: int(data[0]%8) - 1,
			MinRequests:         int(data[1] % 16),
			HalfOpenProbes:      int(data[2] % 6),
			SlowCallThreshold:   100 * time.Millisecond,
		}
		var ops []op
		for i := 3; i+1 < len(data); i += 2 {
			a, v := data[i], data[i+1]
			o := op{kind: a % 3, pick: int(v), class: allClasses[int(v)%len(allClasses)]}
			o.latency = time.Duration(v) * time.Millisecond
			o.sleep = time.Duration(v) * 50 * time.Millisecond
			ops = append(ops, o)
		}
		synctest.Test(t, func(t *testing.T) { checkSequence(t, cfg, ops, false) })
	})
}
