package discovery_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
)

func count(a *discovery.Aggregator, svc string) int {
	if v := a.View(svc); v != nil {
		return len(v.Instances)
	}
	return -1 // no view
}

// guarded is an aggregator with the gateway's drop guard.
func guarded(t *testing.T) *discovery.Aggregator {
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger, DropShare: 0.5})
	t.Cleanup(func() { a.Close() })
	return a
}

func four() []discovery.Instance {
	return discoverytest.Instances("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80")
}

// A report that takes away more than half of a source's instances of a
// service is held until a second report confirms it; a drop of half or
// less, and a report that takes the drop back, apply at once.
func TestAggregatorHoldsSuddenDropsForConfirmation(t *testing.T) {
	a := guarded(t)
	src := start(t, a, report{"api": four(), "web": four()})[0]
	steps := []struct {
		what     string
		report   report
		api, web int // instances in the views after the report; -1: no view
		held     int
	}{
		{"half of api gone: applies", report{"api": four()[:2], "web": four()}, 2, 4, 0},
		{"web empty: held", report{"api": four()[:2], "web": {}}, 2, 4, 1},
		{"web back: the hold ends", report{"api": four()[:2], "web": four()}, 2, 4, 0},
		{"web down to one: held", report{"api": four()[:2], "web": four()[:1]}, 2, 4, 1},
		{"web down to one again: confirmed", report{"api": four()[:2], "web": four()[:1]}, 2, 1, 0},
		{"api withdrawn: held", report{"web": four()[:1]}, 2, 1, 1},
		{"api withdrawn again: confirmed", report{"web": four()[:1]}, -1, 1, 0},
	}
	for _, s := range steps {
		if err := src.Set(s.report); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if api, web := count(a, "api"), count(a, "web"); api != s.api || web != s.web {
			t.Errorf("%s: views have api %d, web %d instances; want %d, %d", s.what, api, web, s.api, s.web)
		}
		if st := a.Status()[0]; st.Held != s.held {
			t.Errorf("%s: Status().Held = %d, want %d", s.what, st.Held, s.held)
		}
	}
}

// A held drop that no further report confirms applies once it has lasted
// DropAfter: a source that reports only on changes (a file, a watch) is
// believed in the end.
func TestAggregatorConfirmsAHeldDropAfterAWhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger, DropShare: 0.5, DropReports: 3, DropAfter: 30 * time.Second})
		defer a.Close()
		src := discoverytest.NewSource("s0")
		if err := a.Add(src); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := src.Set(report{"api": four()}); err != nil {
			t.Fatal(err)
		}
		if err := src.Set(report{"api": {}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if n := count(a, "api"); n != 4 {
			t.Fatalf("29s after an empty report: %d instances, want the 4 held", n)
		}
		if err := src.Set(report{"api": {}}); err != nil { // the second of 3
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := count(a, "api"); n != 0 {
			t.Errorf("30s after the drop: %d instances, want 0", n)
		}
		if st := a.Status()[0]; st.Held != 0 || st.Instances != 0 {
			t.Errorf("Status() = %+v, want nothing held and no instance", st)
		}
	})
}

// A source that fails keeps its last good instances, and so does one whose
// registry answers nothing for a moment; the zero DropShare turns the guard
// off.
func TestAggregatorSurvivesRegistryTrouble(t *testing.T) {
	a := guarded(t)
	src := start(t, a, report{"api": four()})[0]
	src.Fail(errors.New("registry unreachable"))
	if err := src.Set(report{"api": {}}); err != nil {
		t.Fatal(err)
	}
	if n := count(a, "api"); n != 4 {
		t.Errorf("after an error and an empty answer: %d instances, want the last good 4", n)
	}

	off := newAgg(t)
	src2 := start(t, off, report{"api": four()})[0]
	if err := src2.Set(report{"api": {}}); err != nil {
		t.Fatal(err)
	}
	if n := count(off, "api"); n != 0 {
		t.Errorf("without the guard, after an empty answer: %d instances, want 0", n)
	}
}

// SetDropGuard changes the guard for the reports that come next; turning
// it off ends the drops held.
func TestSetDropGuard(t *testing.T) {
	a := guarded(t)
	src := start(t, a, report{"api": four()})[0]
	if err := src.Set(report{"api": four()[:1]}); err != nil {
		t.Fatal(err)
	}
	if count(a, "api") != 4 || a.Status()[0].Held != 1 {
		t.Fatalf("with the guard: %d instances, %d held; want 4 and 1", count(a, "api"), a.Status()[0].Held)
	}
	a.SetDropGuard(0, 0, 0)
	if err := src.Set(report{"api": four()[:1]}); err != nil {
		t.Fatal(err)
	}
	if count(a, "api") != 1 || a.Status()[0].Held != 0 {
		t.Errorf("guard off: %d instances, %d held; want 1 and 0", count(a, "api"), a.Status()[0].Held)
	}
	a.SetDropGuard(0.5, 0, 0)
	if err := src.Set(report{"api": four()}); err != nil {
		t.Fatal(err)
	}
	if err := src.Set(report{}); err != nil {
		t.Fatal(err)
	}
	if count(a, "api") != 4 || a.Status()[0].Held != 1 {
		t.Errorf("guard on again: %d instances, %d held; want 4 and 1", count(a, "api"), a.Status()[0].Held)
	}
}
