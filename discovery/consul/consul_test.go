package consul_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/discovery/consul/consultest"
	"github.com/duohuo/duohuo/discovery/discoverytest"
)

var cmpAddr = cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y })

const waitLimit = 20 * time.Second

// run adds a source made from cfg (Service "api" unless set) to a new
// aggregator.
func run(t *testing.T, cfg consul.Config) *discovery.Aggregator {
	t.Helper()
	if cfg.Service == "" {
		cfg.Service = "api"
	}
	if cfg.RateInterval == 0 {
		// Changes follow each other closely here; TestChurnIsRateLimited
		// covers the pacing.
		cfg.RateInterval = time.Millisecond
	}
	src, err := consul.NewSource(cfg)
	if err != nil {
		t.Fatalf("NewSource(%+v) = %v", cfg, err)
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { agg.Close() })
	if err := agg.Add(src); err != nil {
		t.Fatal(err)
	}
	return agg
}

func addrs(v *discovery.ServiceView) []string {
	out := []string{}
	if v != nil {
		for _, in := range v.Instances {
			out = append(out, in.Addr.String())
		}
	}
	return out
}

func hasAddrs(want ...string) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		return v != nil && cmp.Equal(addrs(v), append([]string{}, want...))
	}
}

// eventually waits until ok, polling every few milliseconds, with a
// deadline: for state that wakes no subscriber (status, the fake's
// counters).
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func entry(addr string, edit func(*consultest.Entry)) consultest.Entry {
	e := consultest.Instance(addr)
	if edit != nil {
		edit(&e)
	}
	return e
}

func TestInstancesAppearAndFollowChanges(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.Set("api-svc",
		entry("10.0.0.1:8080", func(e *consultest.Entry) {
			e.Tags = []string{"prod", "v2"}
			e.Meta = map[string]string{"version": "v2", "zone": "cn-north-1b"}
			e.NodeMeta = map[string]string{"cloud": "ctyun", "region": "cn-north-1", "zone": "cn-north-1a"}
		}),
		entry("10.0.0.2:8080", func(e *consultest.Entry) {
			e.Tags = []string{"prod"}
			e.ServiceAddress = "" // listens on the node's address
			e.NodeAddress = "10.0.0.2"
		}),
		entry("10.0.0.3:8080", func(e *consultest.Entry) { e.Tags = []string{"canary"} }),
	)
	agg := run(t, consul.Config{
		Name: "api-svc", Servers: []string{srv.Addr()}, Datacenter: "dc1", Tags: []string{"prod"},
		Locality: discovery.Locality{Cloud: "huawei"},
	})
	v := discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return v != nil })
	want := []discovery.Instance{
		{
			ID: "10.0.0.1:8080", Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100,
			Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1b"},
			Labels:   map[string]string{"version": "v2", "zone": "cn-north-1b"},
			Source:   "consul:api-svc@dc1",
			Metadata: map[string]string{"consul_node": "node-10.0.0.1", "consul_service_id": "api-10.0.0.1:8080", "consul_datacenter": "dc1", "consul_tags": "prod,v2"},
		},
		{
			ID: "10.0.0.2:8080", Addr: netip.MustParseAddrPort("10.0.0.2:8080"), Weight: 100,
			Locality: discovery.Locality{Cloud: "huawei"},
			Source:   "consul:api-svc@dc1",
			Metadata: map[string]string{"consul_node": "node-10.0.0.2", "consul_service_id": "api-10.0.0.2:8080", "consul_datacenter": "dc1", "consul_tags": "prod"},
		},
	}
	if diff := cmp.Diff(want, v.Instances, cmpAddr); diff != "" {
		t.Errorf("view (-want +got):\n%s", diff)
	}

	t.Run("a change arrives through the blocking query", func(t *testing.T) {
		waitBlocked(t, srv)
		srv.Set("api-svc", entry("10.0.0.9:8080", func(e *consultest.Entry) { e.Tags = []string{"prod"} }))
		discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.9:8080"))
		qs := srv.Queries()
		if qs[0].Index != 0 || qs[1].Index == 0 || qs[1].Wait != "60000ms" || qs[0].DC != "dc1" {
			t.Errorf("queries = %+v, want a first read without index, then blocking ones with wait=60000ms, all with dc=dc1", qs)
		}
	})
	t.Run("an empty answer is believed", func(t *testing.T) {
		srv.Set("api-svc")
		discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return v != nil && len(v.Instances) == 0 })
	})
}

func TestHealthStatesAndWeights(t *testing.T) {
	withChecks := func(addr string, w *consultest.Weights, statuses ...string) consultest.Entry {
		return entry(addr, func(e *consultest.Entry) {
			e.Weights = w
			e.Checks = nil
			for i, st := range statuses {
				e.Checks = append(e.Checks, consultest.Check{ID: string(rune('a' + i)), Status: st})
			}
		})
	}
	w := &consultest.Weights{Passing: 10, Warning: 1}
	entries := []consultest.Entry{
		withChecks("10.0.0.1:80", w, "passing", "passing"),
		withChecks("10.0.0.2:80", w, "passing", "warning"),
		withChecks("10.0.0.3:80", w, "warning", "critical"),
		withChecks("10.0.0.4:80", w, "maintenance"),
		withChecks("10.0.0.5:80", nil, "passing"),
		withChecks("10.0.0.6:80", &consultest.Weights{Passing: 3, Warning: 0}, "warning"),
		withChecks("10.0.0.7:80", nil),
	}
	weights := func(v *discovery.ServiceView) map[string]uint32 {
		out := map[string]uint32{}
		for _, in := range v.Instances {
			out[in.Addr.String()] = in.Weight
		}
		return out
	}
	t.Run("warning instances are kept at their warning weight", func(t *testing.T) {
		srv := consultest.NewServer(consultest.Config{})
		defer srv.Close()
		srv.Set("api", entries...)
		agg := run(t, consul.Config{Servers: []string{srv.Addr()}})
		v := discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return v != nil })
		want := map[string]uint32{"10.0.0.1:80": 1000, "10.0.0.2:80": 100, "10.0.0.5:80": 100, "10.0.0.6:80": 0, "10.0.0.7:80": 100}
		if diff := cmp.Diff(want, weights(v)); diff != "" {
			t.Errorf("weights (-want +got):\n%s", diff)
		}
	})
	t.Run("OnlyPassing leaves warning instances out", func(t *testing.T) {
		srv := consultest.NewServer(consultest.Config{})
		defer srv.Close()
		srv.Set("api", entries...)
		agg := run(t, consul.Config{Servers: []string{srv.Addr()}, OnlyPassing: true})
		v := discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return v != nil })
		want := map[string]uint32{"10.0.0.1:80": 1000, "10.0.0.5:80": 100, "10.0.0.7:80": 100}
		if diff := cmp.Diff(want, weights(v)); diff != "" {
			t.Errorf("weights (-want +got):\n%s", diff)
		}
	})
	t.Run("large weights are scaled down together", func(t *testing.T) {
		srv := consultest.NewServer(consultest.Config{})
		defer srv.Close()
		srv.Set("api", withChecks("10.0.0.1:80", &consultest.Weights{Passing: 1000, Warning: 1}, "passing"),
			withChecks("10.0.0.2:80", &consultest.Weights{Passing: 1, Warning: 1}, "passing"))
		agg := run(t, consul.Config{Servers: []string{srv.Addr()}})
		v := discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return v != nil })
		want := map[string]uint32{"10.0.0.1:80": 65535, "10.0.0.2:80": 66}
		if diff := cmp.Diff(want, weights(v)); diff != "" {
			t.Errorf("weights (-want +got):\n%s", diff)
		}
	})
}

func TestIndexGoingBackwardsIsReset(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	for range 50 {
		srv.Set("other") // the index climbs
	}
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	agg := run(t, consul.Config{Servers: []string{srv.Addr()}})
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
	waitBlocked(t, srv)
	high := srv.Index()

	srv.Restore(3) // an older snapshot: every index drops to 3
	// Without the reset the source would block at index 52 and miss
	// every write until the index climbed past it again.
	eventually(t, "a blocked query after the restore", func() bool {
		qs := srv.Queries()
		return srv.Blocked() == 1 && qs[len(qs)-1].Index < high
	})
	srv.Set("api", consultest.Instance("10.0.0.2:80"))
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.2:80"))
	var sawReset bool
	for _, q := range srv.Queries()[1:] {
		sawReset = sawReset || q.Index == 1
	}
	if !sawReset {
		t.Errorf("queries = %+v, want a query at index 1 after the restore", srv.Queries())
	}
}

func TestZeroIndexNeverBusyLoops(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.ZeroIndex(true) // "api" is not registered yet: its index is 0
	agg := run(t, consul.Config{Servers: []string{srv.Addr()}})
	discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return v != nil && len(v.Instances) == 0 })
	// With index 0 every query would return at once; with 1 it blocks
	// until the service exists.
	eventually(t, "a query blocked at index 1", func() bool {
		qs := srv.Queries()
		return srv.Blocked() == 1 && qs[len(qs)-1].Index == 1
	})
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
}

func TestWaitTimeoutRepeatsTheSameIndex(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	agg := run(t, consul.Config{Servers: []string{srv.Addr()}, Wait: time.Second})
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
	// The fake answers each blocked query when its wait (1s plus jitter)
	// runs out, with the same index; the source asks again with it.
	eventually(t, "two blocking queries at one index", func() bool {
		qs := srv.Queries()
		return len(qs) >= 3 && qs[1].Index != 0 && qs[2].Index == qs[1].Index
	})
	if st := agg.Status()[0]; st.Stale {
		t.Errorf("status = %+v, want not stale: a timed-out wait is not an error", st)
	}
}

// stepClock is a frozen clock whose After records the waits asked for and
// delivers at once.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func (c *stepClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration{}, c.waits...)
}

func TestChurnIsRateLimited(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	srv.Churn(true) // every answer at a new index, at once
	clk := &stepClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	agg := run(t, consul.Config{Servers: []string{srv.Addr()}, RateInterval: 15 * time.Second, Now: clk.Now, After: clk.After})
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
	eventually(t, "a few paced queries", func() bool { return len(clk.Waits()) >= 3 })
	agg.Close()
	// The clock stands still between queries: two go at once (the
	// burst), then each waits for a token.
	for i, d := range clk.Waits()[:3] {
		if d != 15*time.Second {
			t.Errorf("wait %d = %v, want 15s (one token per RateInterval)", i, d)
		}
	}
	if qs := srv.Queries(); len(qs) > len(clk.Waits())+2 {
		t.Errorf("%d queries for %d waits, want at most 2 more queries than waits (the burst)", len(qs), len(clk.Waits()))
	}
}

func TestACLToken(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{Token: "s3cret"})
	defer srv.Close()
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	t.Run("the token is sent in X-Consul-Token", func(t *testing.T) {
		agg := run(t, consul.Config{Servers: []string{srv.Addr()}, Token: "s3cret"})
		discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
		if q := srv.Queries()[0]; q.Token != "s3cret" {
			t.Errorf("query = %+v, want the token", q)
		}
	})
	t.Run("a refused token is ErrAuth", func(t *testing.T) {
		agg := run(t, consul.Config{Servers: []string{srv.Addr()}, Token: "wrong"})
		eventually(t, "an error", func() bool { return agg.Status()[0].Err != nil })
		if st := agg.Status()[0]; !errors.Is(st.Err, consul.ErrAuth) {
			t.Errorf("status = %+v, want ErrAuth", st)
		}
	})
}

func TestServerFailover(t *testing.T) {
	a := consultest.NewServer(consultest.Config{})
	defer a.Close()
	b := consultest.NewServer(consultest.Config{})
	defer b.Close()
	a.Set("api", consultest.Instance("10.0.0.1:80"))
	b.Set("api", consultest.Instance("10.0.0.1:80"))
	agg := run(t, consul.Config{Servers: []string{a.Addr(), b.Addr()}, RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
	a.Close()
	b.Set("api", consultest.Instance("10.0.0.2:80"))
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.2:80"))

	t.Run("every server down keeps the last good view", func(t *testing.T) {
		b.Close()
		eventually(t, "a stale status", func() bool { return agg.Status()[0].Stale })
		if v := agg.View("api"); !hasAddrs("10.0.0.2:80")(v) {
			t.Errorf("view = %v, want the last good [10.0.0.2:80]", addrs(v))
		}
	})
}

func TestSilentServerDoesNotHangTheSource(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	agg := run(t, consul.Config{Servers: []string{srv.Addr()}, Wait: time.Second, Timeout: 200 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
	srv.Hang(true)
	eventually(t, "a deadline error", func() bool { return errors.Is(agg.Status()[0].Err, context.DeadlineExceeded) })
	if v := agg.View("api"); !hasAddrs("10.0.0.1:80")(v) {
		t.Errorf("view = %v, want the last good one", addrs(v))
	}
	srv.Hang(false)
	srv.Set("api", consultest.Instance("10.0.0.2:80"))
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.2:80"))
}

func TestCancelStopsWatchDuringABlockingQuery(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.Set("api", consultest.Instance("10.0.0.1:80"))
	src, err := consul.NewSource(consul.Config{Service: "api", Servers: []string{srv.Addr()}, Wait: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, nopUpdater{}) }()
	waitBlocked(t, srv)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch = %v, want context.Canceled", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Watch did not return after cancel")
	}
}

type nopUpdater struct{}

func (nopUpdater) Update(map[string][]discovery.Instance) error { return nil }
func (nopUpdater) Fail(error)                                   {}

func TestBadEntriesAreLeftOut(t *testing.T) {
	srv := consultest.NewServer(consultest.Config{})
	defer srv.Close()
	srv.Set("api",
		consultest.Instance("10.0.0.1:80"),
		entry("10.0.0.2:80", func(e *consultest.Entry) { e.ServiceAddress = "api-2.service.consul" }),
		entry("10.0.0.3:80", func(e *consultest.Entry) { e.Port = 0 }),
		entry("10.0.0.1:80", func(e *consultest.Entry) { e.Node = "other" }),
	)
	agg := run(t, consul.Config{Servers: []string{srv.Addr()}})
	discoverytest.WaitView(t, agg, "api", hasAddrs("10.0.0.1:80"))
	eventually(t, "an error", func() bool { return agg.Status()[0].Err != nil })
	if st := agg.Status()[0]; !errors.Is(st.Err, consul.ErrBadInstance) {
		t.Errorf("status = %+v, want ErrBadInstance", st)
	}
}

func TestNewSourceRefusesBadConfig(t *testing.T) {
	ok := consul.Config{Service: "api"}
	for _, tc := range []struct {
		name string
		edit func(*consul.Config)
	}{
		{"no service", func(c *consul.Config) { c.Service = "" }},
		{"a name with a slash", func(c *consul.Config) { c.Name = "a/b" }},
		{"an empty tag", func(c *consul.Config) { c.Tags = []string{""} }},
		{"a server with a path", func(c *consul.Config) { c.Servers = []string{"http://a:8500/v1"} }},
		{"a wait below 1s", func(c *consul.Config) { c.Wait = time.Millisecond }},
		{"a wait above 10m", func(c *consul.Config) { c.Wait = 11 * time.Minute }},
		{"RetryMax below RetryMin", func(c *consul.Config) { c.RetryMin, c.RetryMax = time.Minute, time.Second }},
		{"a token with a newline", func(c *consul.Config) { c.Token = "a\nb" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			if _, err := consul.NewSource(cfg); !errors.Is(err, consul.ErrConfig) {
				t.Errorf("NewSource(%+v) = %v, want ErrConfig", cfg, err)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		src, err := consul.NewSource(ok)
		if err != nil {
			t.Fatal(err)
		}
		if got := src.Servers(); !cmp.Equal(got, []string{"http://127.0.0.1:8500"}) {
			t.Errorf("Servers() = %v, want the local agent", got)
		}
		if src.Name() != "consul:api" {
			t.Errorf("Name() = %q", src.Name())
		}
	})
}

// waitBlocked waits, up to a minute, until one query is blocked on srv.
func waitBlocked(t *testing.T, srv *consultest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := srv.WaitBlocked(ctx, 1); err != nil {
		t.Fatal(err)
	}
}
