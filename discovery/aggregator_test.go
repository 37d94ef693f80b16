package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
)

type report = map[string][]discovery.Instance

func inst(addr string, weight uint32, labels ...string) discovery.Instance {
	in := discovery.Instance{Addr: netip.MustParseAddrPort(addr), Weight: weight}
	for i := 0; i+1 < len(labels); i += 2 {
		if in.Labels == nil {
			in.Labels = map[string]string{}
		}
		in.Labels[labels[i]] = labels[i+1]
	}
	return in
}

// published is in as the aggregator publishes it for source src.
func published(in discovery.Instance, src string) discovery.Instance {
	if in.ID == "" {
		in.ID = discovery.AddrID(in.Addr)
	}
	in.Source = src
	return in
}

func newAgg(t *testing.T) *discovery.Aggregator {
	t.Helper()
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger})
	t.Cleanup(func() { a.Close() })
	return a
}

// start adds sources in precedence order, each with its initial report, and
// waits until every report is visible.
func start(t *testing.T, a *discovery.Aggregator, reports ...report) []*discoverytest.Source {
	t.Helper()
	return startB(t, a, reports...)
}

func startB(t testing.TB, a *discovery.Aggregator, reports ...report) []*discoverytest.Source {
	t.Helper()
	srcs := make([]*discoverytest.Source, len(reports))
	for i, r := range reports {
		srcs[i] = discoverytest.NewSource(fmt.Sprintf("s%d", i))
		if err := srcs[i].Set(r); err != nil {
			t.Fatal(err)
		}
		if err := a.Add(srcs[i]); err != nil {
			t.Fatalf("Add(%s) = %v", srcs[i].Name(), err)
		}
	}
	waitStatus(t, a, func(st []discovery.SourceStatus) bool {
		for _, s := range st {
			if s.Updates == 0 && s.Refused == 0 {
				return false
			}
		}
		return true
	})
	return srcs
}

// waitStatus polls Status every millisecond until ok, with a deadline;
// sources report on their own goroutines and status changes wake no
// subscriber.
func waitStatus(t testing.TB, a *discovery.Aggregator, ok func([]discovery.SourceStatus) bool) []discovery.SourceStatus {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(discoverytest.WaitTimeout)
	for {
		st := a.Status()
		if ok(st) {
			return st
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("status condition not met: %+v", st)
		}
	}
}

func TestAggregatorPrecedence(t *testing.T) {
	tests := []struct {
		name    string
		reports []report // in precedence order: s0 first
		want    []discovery.Instance
	}{
		{
			name:    "disjoint instances from two sources are all published, sorted by ID",
			reports: []report{{"api": {inst("10.0.0.2:80", 1)}}, {"api": {inst("10.0.0.1:80", 2)}}},
			want:    []discovery.Instance{published(inst("10.0.0.1:80", 2), "s1"), published(inst("10.0.0.2:80", 1), "s0")},
		},
		{
			name: "the same address from two sources is published once, as the first source says",
			reports: []report{
				{"api": {inst("10.0.0.1:80", 7, "version", "v2")}},
				{"api": {inst("10.0.0.1:80", 100, "version", "v1")}},
			},
			want: []discovery.Instance{published(inst("10.0.0.1:80", 7, "version", "v2"), "s0")},
		},
		{
			name:    "an IPv4-mapped IPv6 address is the same address as its IPv4 form",
			reports: []report{{"api": {inst("10.0.0.1:80", 1)}}, {"api": {inst("[::ffff:10.0.0.1]:80", 2)}}},
			want:    []discovery.Instance{published(inst("10.0.0.1:80", 1), "s0")},
		},
		{
			name: "an ID taken by a higher source at another address hides the lower instance",
			reports: []report{
				{"api": {{ID: "a", Addr: netip.MustParseAddrPort("10.0.0.1:80"), Weight: 1}}},
				{"api": {{ID: "a", Addr: netip.MustParseAddrPort("10.0.0.2:80"), Weight: 1}}},
			},
			want: []discovery.Instance{{ID: "a", Addr: netip.MustParseAddrPort("10.0.0.1:80"), Weight: 1, Source: "s0"}},
		},
		{
			name:    "a service reported only by the lower source is published from it",
			reports: []report{{"web": {inst("10.0.0.9:80", 1)}}, {"api": {inst("10.0.0.1:80", 1)}}},
			want:    []discovery.Instance{published(inst("10.0.0.1:80", 1), "s1")},
		},
		{
			name:    "a service reported with no instances has an empty view",
			reports: []report{{"api": {}}},
			want:    []discovery.Instance{},
		},
		{
			name:    "the same port on another address is another instance",
			reports: []report{{"api": {inst("10.0.0.1:80", 1), inst("10.0.0.1:81", 1)}}},
			want:    []discovery.Instance{published(inst("10.0.0.1:80", 1), "s0"), published(inst("10.0.0.1:81", 1), "s0")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAgg(t)
			start(t, a, tt.reports...)
			v := a.View("api")
			if v == nil {
				t.Fatalf("View(api) = nil, want %d instances", len(tt.want))
			}
			if diff := cmp.Diff(tt.want, v.Instances, cmpAddr); diff != "" {
				t.Errorf("View(api).Instances (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregatorRefusesBadReportAndKeepsLastGood(t *testing.T) {
	good := report{"api": {inst("10.0.0.1:80", 100)}}
	tests := []struct {
		name string
		bad  report
		want error
	}{
		{"port 0", report{"api": {inst("10.0.0.2:0", 1)}}, discovery.ErrInvalidAddr},
		{"unspecified address", report{"api": {inst("0.0.0.0:80", 1)}}, discovery.ErrInvalidAddr},
		{"weight above the range", report{"api": {inst("10.0.0.2:80", discovery.MaxWeight+1)}}, discovery.ErrInvalidWeight},
		{"duplicate ID within one source", report{"api": {
			{ID: "x", Addr: netip.MustParseAddrPort("10.0.0.2:80")}, {ID: "x", Addr: netip.MustParseAddrPort("10.0.0.3:80")},
		}}, discovery.ErrDuplicate},
		{"duplicate address within one source", report{"api": {inst("10.0.0.2:80", 1), inst("10.0.0.2:80", 2)}}, discovery.ErrDuplicate},
		{"bad service name", report{"a b": {inst("10.0.0.2:80", 1)}}, discovery.ErrInvalidService},
		{"control character in a label", report{"api": {inst("10.0.0.2:80", 1, "lane", "a\tb")}}, discovery.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run("a report with "+tt.name+" is refused", func(t *testing.T) {
			a := newAgg(t)
			src := start(t, a, good)[0]
			before := a.View("api")

			err := src.Set(tt.bad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Set(bad) = %v, want %v", err, tt.want)
			}
			var ue *discovery.UpdateError
			if !errors.As(err, &ue) || ue.Source != "s0" {
				t.Errorf("Set(bad) = %#v, want an *UpdateError naming source s0", err)
			}
			if got := a.View("api"); got != before {
				t.Errorf("View(api) after refused report = %+v, want the last good view %+v", got, before)
			}
			st := a.Status()[0]
			if !st.Stale || st.Refused != 1 || !errors.Is(st.Err, tt.want) || st.LastError == "" {
				t.Errorf("Status()[0] = %+v, want stale with 1 refused and the error", st)
			}

			// The next good report clears the stale mark.
			if err := src.Set(report{"api": {inst("10.0.0.5:80", 1)}}); err != nil {
				t.Fatalf("Set(good) = %v", err)
			}
			if st := a.Status()[0]; st.Stale || st.Updates != 2 {
				t.Errorf("Status()[0] after good report = %+v, want not stale, 2 updates", st)
			}
		})
	}
}

func TestAggregatorRevisionsAndNotifications(t *testing.T) {
	a := newAgg(t)
	src := start(t, a, report{"api": {inst("10.0.0.1:80", 1)}})[0]
	changes, cancel := a.Subscribe()
	defer cancel()
	v1 := a.View("api")

	t.Run("an identical report keeps the view and does not notify", func(t *testing.T) {
		if err := src.Set(report{"api": {inst("10.0.0.1:80", 1)}}); err != nil {
			t.Fatal(err)
		}
		if got := a.View("api"); got != v1 {
			t.Errorf("View(api) = %+v, want unchanged %+v", got, v1)
		}
		select {
		case <-changes:
			t.Error("Subscribe: got a notification for an identical report")
		default:
		}
	})
	t.Run("changes are coalesced into one pending notification", func(t *testing.T) {
		for w := uint32(2); w < 5; w++ {
			if err := src.Set(report{"api": {inst("10.0.0.1:80", w)}}); err != nil {
				t.Fatal(err)
			}
		}
		<-changes
		select {
		case <-changes:
			t.Error("Subscribe: got a second notification, want coalesced")
		default:
		}
		v := a.View("api")
		if v.Revision <= v1.Revision || v.Instances[0].Weight != 4 {
			t.Errorf("View(api) = %+v, want weight 4 at a revision above %d", v, v1.Revision)
		}
		if v1.Instances[0].Weight != 1 {
			t.Errorf("old view changed: %+v", v1)
		}
	})
	t.Run("a change of registry health alone publishes a new view", func(t *testing.T) {
		prev := a.View("api")
		unknown := inst("10.0.0.1:80", 4)
		unknown.HealthUnknown = true
		if err := src.Set(report{"api": {unknown}}); err != nil {
			t.Fatal(err)
		}
		v := a.View("api")
		if v == prev || !v.Instances[0].HealthUnknown {
			t.Errorf("View(api) = %+v, want a new view with HealthUnknown", v)
		}
	})
	t.Run("a service no source reports any more has no view", func(t *testing.T) {
		if err := src.Set(report{"web": {inst("10.0.0.2:80", 1)}}); err != nil {
			t.Fatal(err)
		}
		if v := a.View("api"); v != nil {
			t.Errorf("View(api) = %+v, want nil", v)
		}
		if got := len(a.Views()); got != 1 {
			t.Errorf("len(Views()) = %d, want 1", got)
		}
	})
	t.Run("cancel closes the channel", func(t *testing.T) {
		cancel()
		for range changes { // drains a pending value, then ends
		}
	})
}

func TestAggregatorCopiesReports(t *testing.T) {
	a := newAgg(t)
	list := []discovery.Instance{inst("10.0.0.1:80", 1, "version", "v1")}
	list[0].Metadata = map[string]string{"pod": "p1"}
	start(t, a, report{"api": list})
	list[0].Weight = 99
	list[0].Labels["version"] = "v9"
	list[0].Metadata["pod"] = "p9"
	got := a.View("api").Instances[0]
	if got.Weight != 1 || got.Labels["version"] != "v1" || got.Metadata["pod"] != "p1" {
		t.Errorf("View(api).Instances[0] = %+v after the source changed its slice, want weight 1, version v1, pod p1", got)
	}
}

func TestAggregatorRemove(t *testing.T) {
	a := newAgg(t)
	srcs := start(t, a,
		report{"api": {inst("10.0.0.1:80", 5)}},
		report{"api": {inst("10.0.0.1:80", 9), inst("10.0.0.2:80", 9)}},
	)
	if st := a.Status(); st[1].Shadowed != 1 {
		t.Errorf("Status()[1].Shadowed = %d, want 1", st[1].Shadowed)
	}
	if err := a.Remove("s0"); err != nil {
		t.Fatalf("Remove(s0) = %v", err)
	}
	want := []discovery.Instance{published(inst("10.0.0.1:80", 9), "s1"), published(inst("10.0.0.2:80", 9), "s1")}
	if diff := cmp.Diff(want, a.View("api").Instances, cmpAddr); diff != "" {
		t.Errorf("after Remove(s0), the shadowed instance must come back (-want +got):\n%s", diff)
	}
	st := a.Status()
	if len(st) != 1 || st[0].Name != "s1" || st[0].Precedence != 0 || st[0].Shadowed != 0 {
		t.Errorf("Status() = %+v, want only s1 at precedence 0, nothing shadowed", st)
	}
	if err := srcs[0].Set(report{"api": {inst("10.0.0.3:80", 1)}}); err != nil {
		t.Errorf("Set on a removed source = %v, want nil (no Watch running)", err)
	}
	if err := a.Remove("s0"); !errors.Is(err, discovery.ErrUnknownSource) {
		t.Errorf("Remove(s0) twice = %v, want ErrUnknownSource", err)
	}
}

func TestAggregatorLifecycle(t *testing.T) {
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger})
	src := start(t, a, report{"api": {inst("10.0.0.1:80", 1)}})[0]
	if err := a.Add(discoverytest.NewSource("s0")); !errors.Is(err, discovery.ErrDuplicateSource) {
		t.Errorf("Add(duplicate name) = %v, want ErrDuplicateSource", err)
	}
	changes, _ := a.Subscribe()
	if err := a.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if _, open := <-changes; open {
		t.Error("subscription still open after Close")
	}
	if a.View("api") == nil {
		t.Error("View(api) = nil after Close, want the last view")
	}
	if err := a.Add(discoverytest.NewSource("late")); !errors.Is(err, discovery.ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	if err := src.Set(report{}); err != nil {
		t.Errorf("Set after Close = %v, want nil (Watch has returned)", err)
	}
	if ch, _ := a.Subscribe(); ch != nil {
		if _, open := <-ch; open {
			t.Error("Subscribe after Close returned an open channel")
		}
	}
	a.Close() // idempotent
}

// failing is a Source whose Watch fails the first n calls, then reports
// one instance and blocks; if breakAt > 0, the call after breakAt reports
// and fails, as a watch that worked and then broke.
type failing struct {
	n, breakAt int
	calls      []time.Time
}

func (f *failing) Name() string { return "failing" }
func (f *failing) Watch(ctx context.Context, u discovery.Updater) error {
	f.calls = append(f.calls, time.Now())
	if len(f.calls) == f.breakAt {
		_ = u.Update(report{"api": {inst("10.0.0.1:80", 1)}})
		return errors.New("watch broken")
	}
	if len(f.calls) <= f.n {
		return errors.New("registry unreachable")
	}
	if err := u.Update(report{"api": {inst("10.0.0.1:80", 1)}}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestAggregatorRetriesFailedWatchWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := discovery.NewAggregator(discovery.AggregatorConfig{
			Logger: discardLogger, RetryMin: time.Second, RetryMax: 3 * time.Second,
		})
		defer a.Close()
		f := &failing{n: 4}
		if err := a.Add(f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // fake time inside the bubble
		synctest.Wait()
		if a.View("api") == nil {
			t.Fatal("View(api) = nil after the source recovered")
		}
		var gaps []time.Duration
		for i := 1; i < len(f.calls); i++ {
			gaps = append(gaps, f.calls[i].Sub(f.calls[i-1]))
		}
		want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
		if diff := cmp.Diff(want, gaps); diff != "" {
			t.Errorf("gaps between Watch calls (-want +got):\n%s", diff)
		}
		if st := a.Status()[0]; st.Refused != 4 || st.Stale {
			t.Errorf("Status()[0] = %+v, want 4 errors recorded, not stale after recovery", st)
		}
	})
}

func TestAggregatorRetriesPromptlyAfterAWatchThatWorked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := discovery.NewAggregator(discovery.AggregatorConfig{
			Logger: discardLogger, RetryMin: time.Second, RetryMax: 8 * time.Second,
		})
		defer a.Close()
		// Fails 3 times (backoff 1s, 2s, 4s), works then breaks on call 4,
		// fails again on 5 and 6, then works.
		f := &failing{n: 6, breakAt: 4}
		if err := a.Add(f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		var gaps []time.Duration
		for i := 1; i < len(f.calls); i++ {
			gaps = append(gaps, f.calls[i].Sub(f.calls[i-1]))
		}
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, time.Second, 2 * time.Second, 4 * time.Second}
		if diff := cmp.Diff(want, gaps); diff != "" {
			t.Errorf("gaps between Watch calls (-want +got):\n%s", diff)
		}
	})
}
