package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/breaker"
)

// step is a run of identical outcomes, or a pause when sleep is set.
type step struct {
	class   breaker.Class
	latency time.Duration
	n       int
	sleep   time.Duration
}

func ok(n int) step                    { return step{class: breaker.Success, n: n} }
func fail(n int) step                  { return step{class: breaker.ServerError, n: n} }
func of(c breaker.Class, n int) step   { return step{class: c, n: n} }
func slow(d time.Duration, n int) step { return step{class: breaker.Success, latency: d, n: n} }
func pause(d time.Duration) step       { return step{sleep: d} }

// alternate returns n pairs of (success, failure).
func alternate(n int) []step {
	var s []step
	for range n {
		s = append(s, ok(1), fail(1))
	}
	return s
}

// run feeds the steps through Allow and Done and returns the events seen.
func run(t *testing.T, b *breaker.Breaker, steps []step) {
	t.Helper()
	for _, s := range steps {
		if s.sleep > 0 {
			time.Sleep(s.sleep)
			continue
		}
		for range s.n {
			tk, err := b.Allow()
			if err != nil {
				return // opened: the rest would be refused
			}
			b.Done(tk, s.class, s.latency)
		}
	}
}

type recorder struct{ events []breaker.Event }

func (r *recorder) on(e breaker.Event) { r.events = append(r.events, e) }

func (r *recorder) String() string {
	var parts []string
	for _, e := range r.events {
		parts = append(parts, fmt.Sprintf("%v→%v", e.From, e.To))
	}
	return strings.Join(parts, " ")
}

func newBreaker(t *testing.T, cfg breaker.Config) (*breaker.Breaker, *recorder) {
	t.Helper()
	r := &recorder{}
	cfg.OnStateChange = r.on
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b, r
}

func TestTripConditions(t *testing.T) {
	noConsec := breaker.Config{ConsecutiveFailures: -1}
	slowCfg := breaker.Config{ConsecutiveFailures: -1, SlowCallThreshold: 100 * time.Millisecond}
	for _, c := range []struct {
		name   string
		cfg    breaker.Config
		steps  []step
		want   breaker.State
		reason string
	}{
		{"4 consecutive failures do not trip", breaker.Config{}, []step{fail(4)}, breaker.Closed, ""},
		{"5 consecutive failures trip", breaker.Config{}, []step{fail(5)}, breaker.Open, "5 consecutive failures"},
		{"a success resets the run", breaker.Config{}, []step{fail(4), ok(1), fail(4)}, breaker.Closed, ""},
		{"a client error resets the run", breaker.Config{}, []step{fail(4), of(breaker.ClientError, 1), fail(4)}, breaker.Closed, ""},
		{"every failure class counts", breaker.Config{}, []step{of(breaker.Network, 1), of(breaker.Timeout, 1), of(breaker.Overload, 1), of(breaker.ServerError, 2)}, breaker.Open, "5 consecutive"},
		{"a custom run of 2 trips at 2", breaker.Config{ConsecutiveFailures: 2}, []step{fail(2)}, breaker.Open, "2 consecutive"},
		{"client errors never trip", breaker.Config{}, []step{of(breaker.ClientError, 1000)}, breaker.Closed, ""},
		{"cancellations never trip", breaker.Config{}, []step{of(breaker.Canceled, 1000)}, breaker.Closed, ""},
		{"a 50% failure ratio over 20 calls trips", noConsec, alternate(10), breaker.Open, "failure ratio 0.50 ≥ 0.50 over 20 calls"},
		{"a 50% failure ratio under 20 calls does not trip", noConsec, alternate(9), breaker.Closed, ""},
		{"a 45% failure ratio does not trip", noConsec, append([]step{ok(2)}, alternate(9)...), breaker.Closed, ""},
		{"a custom ratio and minimum", breaker.Config{ConsecutiveFailures: -1, FailureRatio: 0.2, MinRequests: 5}, []step{ok(4), fail(1)}, breaker.Open, "failure ratio 0.20"},
		{"a disabled ratio does not trip", breaker.Config{ConsecutiveFailures: -1, FailureRatio: -1}, []step{fail(100)}, breaker.Closed, ""},
		{"failures age out of the window", noConsec, []step{fail(10), pause(10 * time.Second), ok(10), fail(1)}, breaker.Closed, ""},
		{"failures within the window count", noConsec, []step{fail(10), pause(9 * time.Second), ok(10), fail(1)}, breaker.Open, "over 21 calls"},
		{"slow calls are off by default", breaker.Config{}, []step{slow(time.Hour, 100)}, breaker.Closed, ""},
		{"a 50% slow-call ratio trips", slowCfg, []step{ok(10), slow(100*time.Millisecond, 10)}, breaker.Open, "slow-call ratio 0.50"},
		{"calls under the threshold are not slow", slowCfg, []step{slow(99*time.Millisecond, 100)}, breaker.Closed, ""},
		{"slow client errors count as slow", slowCfg, []step{ok(10), {class: breaker.ClientError, latency: time.Second, n: 10}}, breaker.Open, "slow-call ratio"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, r := newBreaker(t, c.cfg)
				run(t, b, c.steps)
				if got := b.State(); got != c.want {
					t.Fatalf("State() = %v, want %v (events %v)", got, c.want, r)
				}
				if c.want == breaker.Open {
					if len(r.events) != 1 || !strings.Contains(r.events[0].Reason, c.reason) {
						t.Fatalf("events %+v, want one opening with reason containing %q", r.events, c.reason)
					}
				}
			})
		})
	}
}

func TestOpenHalfOpenClosedCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, r := newBreaker(t, breaker.Config{Name: "api"})
		run(t, b, []step{fail(5)})
		if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Allow() on an open breaker: %v, want ErrOpen", err)
		}
		time.Sleep(5*time.Second - time.Nanosecond)
		if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Allow() 1ns before the open timeout: %v, want ErrOpen", err)
		}
		time.Sleep(time.Nanosecond)
		var probes []breaker.Ticket
		for range 3 {
			tk, err := b.Allow()
			if err != nil || !tk.Probe() {
				t.Fatalf("half-open Allow() = %+v, %v; want a probe", tk, err)
			}
			probes = append(probes, tk)
		}
		if b.State() != breaker.HalfOpen {
			t.Fatalf("State() = %v, want half_open", b.State())
		}
		if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("a 4th probe: %v, want ErrOpen", err)
		}
		for i, tk := range probes {
			if b.State() != breaker.HalfOpen {
				t.Fatalf("closed after %d of 3 probes", i)
			}
			b.Done(tk, breaker.Success, time.Millisecond)
		}
		if b.State() != breaker.Closed {
			t.Fatalf("State() after 3 good probes = %v, want closed", b.State())
		}
		if got, want := r.String(), "closed→open open→half_open half_open→closed"; got != want {
			t.Fatalf("events %s, want %s", got, want)
		}
		for i, e := range r.events {
			if e.Name != "api" || e.Generation != uint32(i+2) || e.At.IsZero() {
				t.Fatalf("event %d = %+v, want name api, generation %d, a time", i, e, i+2)
			}
		}
		if c := b.Counts(); c != (breaker.Counts{}) {
			t.Fatalf("Counts() after closing = %+v, want an empty window", c)
		}
		run(t, b, []step{fail(4)})
		if b.State() != breaker.Closed {
			t.Fatal("4 failures after closing tripped: the old failures were not forgotten")
		}
	})
}

func TestProbeOutcomes(t *testing.T) {
	for _, c := range []struct {
		name    string
		class   breaker.Class
		latency time.Duration
		want    breaker.State
		events  string
	}{
		{"a failed probe reopens", breaker.Timeout, 0, breaker.Open, "closed→open open→half_open half_open→open"},
		{"a slow probe reopens", breaker.Success, time.Second, breaker.Open, "closed→open open→half_open half_open→open"},
		{"a client-error probe counts as a success", breaker.ClientError, 0, breaker.HalfOpen, "closed→open open→half_open"},
		{"a canceled probe frees its slot", breaker.Canceled, 0, breaker.HalfOpen, "closed→open open→half_open"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, r := newBreaker(t, breaker.Config{SlowCallThreshold: 500 * time.Millisecond, HalfOpenProbes: 2})
				run(t, b, []step{fail(5), pause(5 * time.Second)})
				t1, _ := b.Allow()
				t2, err := b.Allow()
				if err != nil {
					t.Fatal(err)
				}
				b.Done(t1, c.class, c.latency)
				if got := b.State(); got != c.want {
					t.Fatalf("State() = %v, want %v", got, c.want)
				}
				if r.String() != c.events {
					t.Fatalf("events %s, want %s", r, c.events)
				}
				_, err = b.Allow()
				if c.class == breaker.Canceled && err != nil {
					t.Fatalf("Allow() after a canceled probe: %v, want a probe in its slot", err)
				}
				if c.class != breaker.Canceled && !errors.Is(err, breaker.ErrOpen) {
					t.Fatalf("Allow() = %v, want ErrOpen", err)
				}
				b.Done(t2, breaker.Success, 0) // late: ignored once reopened
				if c.want == breaker.Open {
					time.Sleep(5*time.Second - time.Nanosecond)
					if _, err := b.Allow(); !errors.Is(err, breaker.ErrOpen) {
						t.Fatalf("reopened breaker let a call through before a new open timeout: %v", err)
					}
				}
			})
		})
	}
}

func TestStaleAndZeroTicketsAreIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, r := newBreaker(t, breaker.Config{HalfOpenProbes: 1})
		stale, _ := b.Allow()
		run(t, b, []step{fail(5), pause(5 * time.Second), ok(1)})
		if b.State() != breaker.Closed {
			t.Fatalf("State() = %v, want closed after a good probe", b.State())
		}
		for range 10 {
			b.Done(stale, breaker.ServerError, 0)
			b.Done(breaker.Ticket{}, breaker.ServerError, 0)
		}
		if c := b.Counts(); c.Calls != 0 || b.State() != breaker.Closed || len(r.events) != 3 {
			t.Fatalf("after stale outcomes: %+v, state %v, events %v; want them ignored", c, b.State(), r)
		}
	})
}

func TestCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBreaker(t, breaker.Config{SlowCallThreshold: time.Second})
		run(t, b, []step{ok(3), slow(time.Second, 2), of(breaker.Canceled, 4), fail(2)})
		want := breaker.Counts{Calls: 7, Failures: 2, Slow: 2, ConsecutiveFailures: 2}
		if got := b.Counts(); got != want {
			t.Fatalf("Counts() = %+v, want %+v", got, want)
		}
	})
}

func TestCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cl := breaker.NewClassifier(func(err error) (breaker.Class, bool) {
			if err.Error() == "not found" {
				return breaker.ClientError, true
			}
			return 0, false
		})
		b, _ := newBreaker(t, breaker.Config{Classifier: cl, ConsecutiveFailures: 2})
		ctx := context.Background()
		notFound := errors.New("not found")
		for range 5 {
			if err := b.Call(ctx, func(context.Context) error { return notFound }); !errors.Is(err, notFound) {
				t.Fatalf("Call() = %v, want fn's error", err)
			}
		}
		if b.State() != breaker.Closed {
			t.Fatal("errors the classifier calls client errors tripped the breaker")
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("Call swallowed a panic")
				}
			}()
			_ = b.Call(ctx, func(context.Context) error { panic("boom") })
		}()
		_ = b.Call(ctx, func(context.Context) error { return &breaker.StatusError{Code: 503} })
		if b.State() != breaker.Open {
			t.Fatalf("State() after a panic and a 503 = %v, want open", b.State())
		}
		ran := false
		if err := b.Call(ctx, func(context.Context) error { ran = true; return nil }); !errors.Is(err, breaker.ErrOpen) || ran {
			t.Fatalf("Call() on an open breaker = %v (ran %v), want ErrOpen without running", err, ran)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   breaker.Config
		field string
	}{
		{"the zero config is valid", breaker.Config{}, ""},
		{"negative thresholds disable detectors", breaker.Config{ConsecutiveFailures: -1, FailureRatio: -1}, ""},
		{"a failure ratio above 1", breaker.Config{FailureRatio: 1.5}, "FailureRatio"},
		{"a negative slow-call threshold", breaker.Config{SlowCallThreshold: -1}, "SlowCallThreshold"},
		{"a slow-call ratio above 1", breaker.Config{SlowCallRatio: 2}, "SlowCallRatio"},
		{"a negative minimum", breaker.Config{MinRequests: -1}, "MinRequests"},
		{"a negative window", breaker.Config{Window: -1}, "Window"},
		{"too many buckets", breaker.Config{Buckets: 1001}, "Buckets"},
		{"buckets under a millisecond", breaker.Config{Window: time.Millisecond, Buckets: 10}, "Window"},
		{"a negative open timeout", breaker.Config{OpenTimeout: -1}, "OpenTimeout"},
		{"too many probes", breaker.Config{HalfOpenProbes: 5000}, "HalfOpenProbes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, breaker.ErrConfig) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Validate() = %v, want ErrConfig naming %s", err, c.field)
			}
			if _, err := breaker.New(c.cfg); !errors.Is(err, breaker.ErrConfig) {
				t.Fatalf("New() error = %v, want ErrConfig", err)
			}
			if _, err := breaker.NewGroup(c.cfg); !errors.Is(err, breaker.ErrConfig) {
				t.Fatalf("NewGroup() error = %v, want ErrConfig", err)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{breaker.Closed.String(), "closed"},
		{breaker.Open.String(), "open"},
		{breaker.HalfOpen.String(), "half_open"},
		{breaker.State(7).String(), "state(7)"},
		{breaker.Overload.String(), "overload"},
		{breaker.Class(42).String(), "class(42)"},
		{(&breaker.StatusError{Code: 503}).Error(), "http status 503"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestDoneAtUsesTheCallersClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, r := newBreaker(t, breaker.Config{ConsecutiveFailures: -1, MinRequests: 4})
		start := time.Now()
		// Two failures reported as 11s old have left the 10s window by
		// the time two successes and a failure arrive now.
		for _, c := range []breaker.Class{breaker.Network, breaker.Network} {
			tk, _ := b.Allow()
			b.DoneAt(tk, c, time.Millisecond, start)
		}
		time.Sleep(11 * time.Second)
		for _, c := range []breaker.Class{breaker.Success, breaker.Success, breaker.Network} {
			tk, _ := b.Allow()
			b.DoneAt(tk, c, time.Millisecond, time.Now())
		}
		if b.State() != breaker.Closed {
			t.Fatalf("old failures counted: %v (events %v)", b.State(), r)
		}
		tk, _ := b.Allow()
		b.DoneAt(tk, breaker.Network, time.Millisecond, time.Now())
		if b.State() != breaker.Open || !strings.Contains(r.events[0].Reason, "failure ratio 0.50 ≥ 0.50 over 4 calls") {
			t.Fatalf("2 failures in 4 calls now: %v (events %+v), want open on the ratio", b.State(), r.events)
		}
		b.DoneAt(breaker.Ticket{}, breaker.Network, 0, time.Now()) // the zero Ticket is ignored
	})
}
