package health_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/health"
)

// viewOf returns a view of n instances "i0", "i1", … of weight 100. The
// addresses are never dialled: these tests disable probes.
func viewOf(n int) discovery.ServiceView {
	v := discovery.ServiceView{Service: "api", Revision: 1}
	for i := range n {
		v.Instances = append(v.Instances, discovery.Instance{
			ID:     fmt.Sprintf("i%d", i),
			Addr:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(10000+i)),
			Weight: 100,
		})
	}
	return v
}

// passive returns a started Tracker with probes off, tracking viewOf(n).
// Call it inside a synctest bubble; it is closed when the test ends.
func passive(t *testing.T, n int, o health.OutlierConfig) *health.Tracker {
	t.Helper()
	tr, err := health.New(health.Config{Probe: health.ProbeConfig{Disabled: true}, Outlier: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	tr.Update(viewOf(n))
	return tr
}

func observe(tr *health.Tracker, id string, c health.Class, n int) {
	for range n {
		tr.Observe(id, health.Outcome{Class: c, Latency: time.Millisecond})
	}
	synctest.Wait() // let the Tracker's goroutine act
}

func mustState(t *testing.T, tr *health.Tracker, id string) health.State {
	t.Helper()
	s, ok := tr.State(id)
	if !ok {
		t.Fatalf("State(%q): unknown", id)
	}
	return s
}

func wantStatus(t *testing.T, tr *health.Tracker, id string, want health.Status) {
	t.Helper()
	if s := mustState(t, tr, id); s.Status != want {
		t.Fatalf("State(%q).Status = %v (%s), want %v", id, s.Status, s.Reason, want)
	}
}

func TestConsecutiveDetectors(t *testing.T) {
	all := health.OutlierConfig{MaxEjectionPercent: 100}
	for _, c := range []struct {
		name  string
		cfg   health.OutlierConfig
		class health.Class
		n     int
		want  health.Status
	}{
		{"4 consecutive 5xx do not eject", all, health.ServerError, 4, health.Healthy},
		{"5 consecutive 5xx eject", all, health.ServerError, 5, health.Ejected},
		{"5 consecutive gateway failures eject", all, health.GatewayFailure, 5, health.Ejected},
		{"gateway failures also count as 5xx", health.OutlierConfig{MaxEjectionPercent: 100, ConsecutiveGatewayFailure: -1}, health.GatewayFailure, 5, health.Ejected},
		{"a disabled 5xx detector does not eject", health.OutlierConfig{MaxEjectionPercent: 100, Consecutive5xx: -1}, health.ServerError, 50, health.Healthy},
		{"4xx are ignored", all, health.ClientError, 1000, health.Healthy},
		{"a custom threshold of 2 ejects at 2", health.OutlierConfig{MaxEjectionPercent: 100, Consecutive5xx: 2}, health.ServerError, 2, health.Ejected},
		{"the default 10% cap ejects nothing among 3", health.OutlierConfig{}, health.ServerError, 50, health.Healthy},
		{"AlwaysEjectOne ejects one among 3", health.OutlierConfig{AlwaysEjectOne: true}, health.ServerError, 5, health.Ejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, 3, c.cfg)
				observe(tr, "i0", c.class, c.n)
				wantStatus(t, tr, "i0", c.want)
				wantStatus(t, tr, "i1", health.Healthy)
			})
		})
	}
}

func TestSuccessBetweenFailuresResetsTheCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		for range 10 {
			observe(tr, "i0", health.ServerError, 4)
			observe(tr, "i0", health.Success, 1)
		}
		wantStatus(t, tr, "i0", health.Healthy)
	})
}

func TestEjectionProbationAndReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		start := time.Now()
		observe(tr, "i0", health.ServerError, 5)
		s := mustState(t, tr, "i0")
		if s.Status != health.Ejected || s.Weight != 0 || s.Ejections != 1 || !s.EjectedUntil.Equal(start.Add(30*time.Second)) {
			t.Fatalf("after 5 × 5xx: %+v, want Ejected, weight 0, 1 ejection, until start+30s", s)
		}

		time.Sleep(30*time.Second - time.Nanosecond)
		synctest.Wait()
		wantStatus(t, tr, "i0", health.Ejected)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		s = mustState(t, tr, "i0")
		if s.Status != health.Probation || s.Weight == 0 || s.Weight >= 100 {
			t.Fatalf("after 30s: %+v, want Probation with a reduced, non-zero weight", s)
		}

		observe(tr, "i0", health.Success, 4)
		wantStatus(t, tr, "i0", health.Probation)
		observe(tr, "i0", health.Success, 1)
		wantStatus(t, tr, "i0", health.Healthy)
	})
}

func TestEjectionTimeGrowsAndIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{
			MaxEjectionPercent: 100,
			BaseEjectionTime:   10 * time.Second,
			MaxEjectionTime:    25 * time.Second,
		})
		for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 25 * time.Second, 25 * time.Second} {
			now := time.Now()
			// The first ejection needs 5 × 5xx; later ones happen on the
			// first failure during probation.
			observe(tr, "i0", health.ServerError, 5)
			s := mustState(t, tr, "i0")
			if s.Status != health.Ejected || s.Ejections != i+1 {
				t.Fatalf("ejection %d: %+v, want Ejected with multiplier %d", i+1, s, i+1)
			}
			if got := s.EjectedUntil.Sub(now); got != want {
				t.Fatalf("ejection %d lasts %v, want %v", i+1, got, want)
			}
			time.Sleep(want)
			synctest.Wait()
			wantStatus(t, tr, "i0", health.Probation)
		}
	})
}

func TestFailureDuringProbationEjectsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		observe(tr, "i0", health.GatewayFailure, 5)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		wantStatus(t, tr, "i0", health.Probation)
		observe(tr, "i0", health.GatewayFailure, 1)
		s := mustState(t, tr, "i0")
		if s.Status != health.Ejected || s.Ejections != 2 {
			t.Fatalf("after a failure in probation: %+v, want Ejected, multiplier 2", s)
		}
	})
}

func TestEjectionMultiplierDecaysWhileHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100, ProbationSuccesses: 1})
		observe(tr, "i0", health.ServerError, 5)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		observe(tr, "i0", health.Success, 1)
		s := mustState(t, tr, "i0")
		if s.Status != health.Healthy || s.Ejections != 1 {
			t.Fatalf("back from ejection: %+v, want Healthy with multiplier 1", s)
		}
		time.Sleep(10 * time.Second) // one outlier interval
		synctest.Wait()
		if s := mustState(t, tr, "i0"); s.Ejections != 0 {
			t.Fatalf("after an interval Healthy: multiplier %d, want 0", s.Ejections)
		}
	})
}

func TestMaxEjectionPercent(t *testing.T) {
	for _, c := range []struct {
		name      string
		instances int
		percent   int
		failing   int
		want      int
	}{
		{"10% of 10 ejects 1", 10, 10, 3, 1},
		{"10% of 20 ejects 2", 20, 10, 5, 2},
		{"50% of 4 ejects 2", 4, 50, 4, 2},
		{"100% of 3 ejects all", 3, 100, 3, 3},
		{"34% of 3 ejects 1", 3, 34, 3, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, c.instances, health.OutlierConfig{MaxEjectionPercent: c.percent})
				for i := range c.failing {
					observe(tr, fmt.Sprintf("i%d", i), health.ServerError, 5)
				}
				got := 0
				for _, s := range tr.Snapshot() {
					if s.Status == health.Ejected {
						got++
					}
				}
				if got != c.want {
					t.Fatalf("%d of %d instances failing, cap %d%%: %d ejected, want %d", c.failing, c.instances, c.percent, got, c.want)
				}
			})
		})
	}
}

func TestSuccessRateOutlier(t *testing.T) {
	for _, c := range []struct {
		name      string
		instances int
		volume    int       // requests per instance in the interval
		rates     []float64 // success rate of i0, i1, …; others 1
		ejected   []string
	}{
		{"an instance far below the others is ejected", 6, 100, []float64{0.5}, []string{"i0"}},
		{"equal rates eject nobody", 6, 100, []float64{0.9, 0.9, 0.9, 0.9, 0.9, 0.9}, nil},
		{"fewer than 5 hosts with volume: no detection", 4, 100, []float64{0.1}, nil},
		{"below the request volume: no detection", 6, 99, []float64{0.1}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Consecutive detectors off, so that only the success rate acts.
				tr := passive(t, c.instances, health.OutlierConfig{MaxEjectionPercent: 100, Consecutive5xx: -1, ConsecutiveGatewayFailure: -1})
				for i := range c.instances {
					rate := 1.0
					if i < len(c.rates) {
						rate = c.rates[i]
					}
					ok := int(rate * float64(c.volume))
					id := fmt.Sprintf("i%d", i)
					observe(tr, id, health.Success, ok)
					observe(tr, id, health.ServerError, c.volume-ok)
				}
				time.Sleep(10 * time.Second) // the sweep runs after a weight tick
				synctest.Wait()
				var got []string
				for _, s := range tr.Snapshot() {
					if s.Status == health.Ejected {
						got = append(got, s.ID)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(c.ejected) {
					t.Fatalf("ejected %v, want %v", got, c.ejected)
				}
			})
		})
	}
}

func TestChangesAnnounceEjections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		synctest.Wait()
		select { // the first Update is a change
		case <-tr.Changes():
		default:
			t.Fatal("no change notice after Update")
		}
		observe(tr, "i1", health.Success, 10)
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-tr.Changes():
			t.Fatal("change notice without a change")
		default:
		}
		observe(tr, "i0", health.ServerError, 5)
		select {
		case <-tr.Changes():
		default:
			t.Fatal("no change notice after an ejection")
		}
	})
}

func TestUpdateAddsAndForgetsInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		observe(tr, "i2", health.ServerError, 5)
		wantStatus(t, tr, "i2", health.Ejected)

		v := viewOf(2)
		v.Instances[1].Weight = 0 // drained
		tr.Update(v)
		if _, ok := tr.State("i2"); ok {
			t.Fatal("i2 still tracked after it left the view")
		}
		if s := mustState(t, tr, "i1"); s.Weight != 0 || s.Configured != 0 {
			t.Fatalf("drained i1: %+v, want weight 0", s)
		}
		tr.Observe("i2", health.Outcome{Class: health.ServerError}) // unknown: ignored

		tr.Update(viewOf(3))
		if s := mustState(t, tr, "i2"); s.Status != health.Healthy || s.Ejections != 0 {
			t.Fatalf("i2 back in the view: %+v, want a fresh Healthy instance", s)
		}
		if n := len(tr.Snapshot()); n != 3 {
			t.Fatalf("Snapshot has %d states, want 3", n)
		}
	})
}

func TestCloseIsIdempotentAndStopsUpdates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, err := health.New(health.Config{Probe: health.ProbeConfig{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		tr.Update(viewOf(2))
		tr.Close()
		tr.Close()
		tr.Update(viewOf(5))
		tr.Observe("i0", health.Outcome{Class: health.GatewayFailure})
		if n := len(tr.Snapshot()); n != 2 {
			t.Fatalf("Snapshot after Close has %d states, want the last 2", n)
		}
	})
}

// Gateway failures (unreachable, silent) have their own cap, 100% unless
// set: a cloud that went silent leaves rotation whole, whatever
// MaxEjectionPercent says; the other detectors still honour theirs.
func TestGatewayFailureEjectionCap(t *testing.T) {
	for _, c := range []struct {
		name           string
		instances      int
		percent, gwCap int
		failing        int
		want           int
	}{
		{"a silent cloud of 3 in 9 leaves whole under the default 10% cap", 9, 10, 0, 3, 3},
		{"every instance may leave by default", 4, 10, 0, 4, 4},
		{"an explicit gateway cap holds", 10, 10, 30, 5, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, c.instances, health.OutlierConfig{MaxEjectionPercent: c.percent, MaxGatewayEjectionPercent: c.gwCap})
				for i := range c.failing {
					observe(tr, fmt.Sprintf("i%d", i), health.GatewayFailure, 5)
				}
				got := 0
				for _, s := range tr.Snapshot() {
					if s.Status == health.Ejected {
						got++
					}
				}
				if got != c.want {
					t.Fatalf("%d of %d instances unreachable, caps %d%%/%d%%: %d ejected, want %d", c.failing, c.instances, c.percent, c.gwCap, got, c.want)
				}
			})
		})
	}
}

func TestShrinkingServiceKeepsTheEjectionCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 10, health.OutlierConfig{MaxEjectionPercent: 50})
		for i := range 5 {
			observe(tr, fmt.Sprintf("i%d", i), health.ServerError, 5)
			time.Sleep(time.Millisecond) // i0's ejection ends first
		}
		v := viewOf(10)
		v.Instances = v.Instances[:6] // i0–i4 ejected, i5 healthy
		tr.Update(v)
		synctest.Wait()
		var got []string
		for _, s := range tr.Snapshot() {
			got = append(got, s.Status.String())
		}
		want := "[probation probation ejected ejected ejected healthy]"
		if fmt.Sprint(got) != want {
			t.Fatalf("after shrinking to 6 with a 50%% cap: %v, want %s (the ejections ending first end now)", got, want)
		}
	})
}

// timeout is how the proxy reports an attempt that hit its timeout: a
// gateway failure, with the time it waited.
var timeout = health.Outcome{Class: health.GatewayFailure, Latency: 2 * time.Second}

// attempts reports a sequence of outcomes for id, one letter each: t a
// timeout, 5 a 5xx, s a success; then lets the Tracker act.
func attempts(tr *health.Tracker, id, seq string) {
	for _, c := range seq {
		switch c {
		case 't':
			tr.Observe(id, timeout)
		case '5':
			tr.Observe(id, health.Outcome{Class: health.ServerError, Latency: time.Millisecond})
		case 's':
			tr.Observe(id, health.Outcome{Class: health.Success, Latency: time.Millisecond})
		}
	}
	synctest.Wait()
}

func TestConsecutiveTimeoutsEject(t *testing.T) {
	gwOnly := health.OutlierConfig{MaxEjectionPercent: 100, Consecutive5xx: -1}
	for _, c := range []struct {
		name   string
		cfg    health.OutlierConfig
		seq    string
		want   health.Status
		reason string // a part of the reason when ejected
	}{
		{"5 consecutive timeouts eject", gwOnly, "ttttt", health.Ejected, "5 consecutive gateway failures"},
		{"4 consecutive timeouts do not", gwOnly, "tttt", health.Healthy, ""},
		{"a success between timeouts resets the count", gwOnly, "ttttsttttsttttstttt", health.Healthy, ""},
		{"a 5xx between timeouts resets the gateway count", gwOnly, "tttt5tttt5tttt", health.Healthy, ""},
		{"with the default detectors, timeouts eject as gateway failures", health.OutlierConfig{MaxEjectionPercent: 100}, "ttttt", health.Ejected, "5 consecutive gateway failures"},
		{"timeouts eject past the default 10% cap: theirs is 100%", health.OutlierConfig{}, "ttttt", health.Ejected, "5 consecutive gateway failures"},
		{"timeouts and 5xx together count for the 5xx detector", health.OutlierConfig{MaxEjectionPercent: 100, ConsecutiveGatewayFailure: -1}, "tt5tt", health.Ejected, "5 consecutive 5xx"},
		{"a custom threshold of 2 ejects at the second timeout", health.OutlierConfig{MaxEjectionPercent: 100, ConsecutiveGatewayFailure: 2, Consecutive5xx: -1}, "tt", health.Ejected, "2 consecutive gateway failures"},
		{"a disabled detector does not eject on timeouts", health.OutlierConfig{MaxEjectionPercent: 100, ConsecutiveGatewayFailure: -1, Consecutive5xx: -1}, strings.Repeat("t", 50), health.Healthy, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, 3, c.cfg)
				attempts(tr, "i0", c.seq)
				s := mustState(t, tr, "i0")
				if s.Status != c.want || !strings.Contains(s.Reason, c.reason) {
					t.Fatalf("after %q: %+v, want %v with a reason containing %q", c.seq, s, c.want, c.reason)
				}
				wantStatus(t, tr, "i1", health.Healthy)
			})
		})
	}
}

func TestTimeoutsInProbationEjectAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := passive(t, 3, health.OutlierConfig{MaxEjectionPercent: 100})
		attempts(tr, "i0", "ttttt")
		time.Sleep(30 * time.Second)
		synctest.Wait()
		wantStatus(t, tr, "i0", health.Probation)
		attempts(tr, "i0", "t")
		if s := mustState(t, tr, "i0"); s.Status != health.Ejected || s.Ejections != 2 {
			t.Fatalf("after a timeout in probation: %+v, want Ejected, multiplier 2", s)
		}
	})
}

// TestOneInstanceService: the only instance of a service can be ejected
// (the gateway then serves it in panic mode). Gateway failures have their
// own cap, 100% unless set, so consecutive timeouts eject it by default;
// under a lower cap, and for the other detectors under the default 10%,
// it takes AlwaysEjectOne.
func TestOneInstanceService(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  health.OutlierConfig
		seq  string
		want health.Status
	}{
		{"timeouts eject it under the default caps", health.OutlierConfig{}, "ttttt", health.Ejected},
		{"timeouts eject none of one under a 50% gateway cap", health.OutlierConfig{MaxGatewayEjectionPercent: 50}, "ttttt", health.Healthy},
		{"AlwaysEjectOne lets timeouts eject it past a 50% gateway cap", health.OutlierConfig{MaxGatewayEjectionPercent: 50, AlwaysEjectOne: true}, "ttttt", health.Ejected},
		{"5xx eject none of one under the default 10% cap", health.OutlierConfig{}, "55555", health.Healthy},
		{"AlwaysEjectOne lets 5xx eject it", health.OutlierConfig{AlwaysEjectOne: true}, "55555", health.Ejected},
		{"a 100% cap lets 5xx eject it", health.OutlierConfig{MaxEjectionPercent: 100}, "55555", health.Ejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, 1, c.cfg)
				attempts(tr, "i0", c.seq)
				s := mustState(t, tr, "i0")
				if s.Status != c.want {
					t.Fatalf("after %q: %+v, want %v", c.seq, s, c.want)
				}
				if c.want == health.Ejected && (s.Weight != 0 || s.Ejections != 1) {
					t.Fatalf("ejected: %+v, want weight 0 and multiplier 1", s)
				}
			})
		})
	}
}

func TestOneInstanceEjectionRunsItsCourse(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  health.OutlierConfig
	}{
		{"as the gateway configures it", health.OutlierConfig{AlwaysEjectOne: true}},
		{"under a gateway cap that needs AlwaysEjectOne", health.OutlierConfig{MaxGatewayEjectionPercent: 50, AlwaysEjectOne: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, 1, c.cfg)
				attempts(tr, "i0", "ttttt")
				wantStatus(t, tr, "i0", health.Ejected)

				// The same view again keeps the ejection: the cap allows one.
				tr.Update(viewOf(1))
				synctest.Wait()
				wantStatus(t, tr, "i0", health.Ejected)

				time.Sleep(30 * time.Second)
				synctest.Wait()
				wantStatus(t, tr, "i0", health.Probation)
				attempts(tr, "i0", "t") // still failing: out again, for longer
				s := mustState(t, tr, "i0")
				if s.Status != health.Ejected || s.Ejections != 2 || time.Until(s.EjectedUntil) != 60*time.Second {
					t.Fatalf("after a timeout in probation: %+v, want Ejected for 60s, multiplier 2", s)
				}

				time.Sleep(60 * time.Second)
				synctest.Wait()
				attempts(tr, "i0", "sssss")
				wantStatus(t, tr, "i0", health.Healthy)
			})
		})
	}
}

func TestAlwaysEjectOneEjectsOnlyOne(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  health.OutlierConfig
		seq  string
	}{
		{"5xx under the default 10% cap", health.OutlierConfig{AlwaysEjectOne: true}, "55555"},
		{"timeouts under a 10% gateway cap", health.OutlierConfig{MaxGatewayEjectionPercent: 10, AlwaysEjectOne: true}, "ttttt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, 2, c.cfg)
				attempts(tr, "i0", c.seq)
				attempts(tr, "i1", c.seq)
				wantStatus(t, tr, "i0", health.Ejected)
				wantStatus(t, tr, "i1", health.Healthy) // 10% of 2 is none, and one is out

				// Once i0's ejection ends, one may go again.
				time.Sleep(30 * time.Second)
				synctest.Wait()
				wantStatus(t, tr, "i0", health.Probation)
				attempts(tr, "i1", c.seq)
				wantStatus(t, tr, "i1", health.Ejected)
			})
		})
	}
}

// TestShrinkingServiceKeepsTheCapOverBothDetectors: ejections by the
// gateway-failure detector count towards the others' cap, so when the
// service shrinks the ejections of both together are brought back under
// it, not each under its own.
func TestShrinkingServiceKeepsTheCapOverBothDetectors(t *testing.T) {
	for _, c := range []struct {
		name         string
		gwCap        int
		wantEjected  int
		wantReleased []string
	}{
		{"equal caps of 50% keep 3 of 6", 50, 3, []string{"i0", "i1"}},
		{"the default gateway cap of 100% keeps every ejection", 0, 5, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := passive(t, 10, health.OutlierConfig{MaxEjectionPercent: 50, MaxGatewayEjectionPercent: c.gwCap})
				for i, seq := range []string{"55555", "55555", "55555", "ttttt", "ttttt"} {
					attempts(tr, fmt.Sprintf("i%d", i), seq)
					time.Sleep(time.Millisecond) // i0's ejection ends first
				}
				v := viewOf(10)
				v.Instances = v.Instances[:6] // i0–i4 ejected, i5 healthy
				tr.Update(v)
				synctest.Wait()
				var ejected int
				var released []string
				for _, s := range tr.Snapshot() {
					switch s.Status {
					case health.Ejected:
						ejected++
					case health.Probation:
						released = append(released, s.ID)
					}
				}
				if ejected != c.wantEjected || fmt.Sprint(released) != fmt.Sprint(c.wantReleased) {
					t.Fatalf("after shrinking to 6: %d ejected, %v released to probation; want %d and %v", ejected, released, c.wantEjected, c.wantReleased)
				}
			})
		})
	}
}
