package nacos_test

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
	"github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
)

var cmpAddr = cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y })

// clock is a settable clock shared by a source and a fake server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness runs one source in a real aggregator and steps its polls: the
// source's After signals each finished poll and waits for the test's tick.
type harness struct {
	t      *testing.T
	agg    *discovery.Aggregator
	clock  *clock
	polled chan struct{}
	tick   chan time.Time
}

const waitLimit = 20 * time.Second

// start runs a source made from cfg (Service "api" unless set, the
// harness's clock) and waits for its first poll.
func start(t *testing.T, cfg nacos.Config, clk *clock) *harness {
	t.Helper()
	h := &harness{t: t, clock: clk, polled: make(chan struct{}, 64), tick: make(chan time.Time)}
	if cfg.Service == "" {
		cfg.Service = "api"
	}
	cfg.Now = clk.Now
	cfg.After = func(time.Duration) <-chan time.Time {
		h.polled <- struct{}{}
		return h.tick
	}
	src, err := nacos.NewSource(cfg)
	if err != nil {
		t.Fatalf("NewSource(%+v) = %v", cfg, err)
	}
	h.agg = discovery.NewAggregator(discovery.AggregatorConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { h.agg.Close() })
	if err := h.agg.Add(src); err != nil {
		t.Fatal(err)
	}
	h.waitPoll()
	return h
}

func (h *harness) waitPoll() {
	h.t.Helper()
	select {
	case <-h.polled:
	case <-time.After(waitLimit):
		h.t.Fatalf("no poll finished within %v", waitLimit)
	}
}

// poll lets the source poll once more and waits until it has.
func (h *harness) poll() {
	h.t.Helper()
	select {
	case h.tick <- time.Time{}:
	case <-time.After(waitLimit):
		h.t.Fatalf("the source did not wait for its next poll within %v", waitLimit)
	}
	h.waitPoll()
}

func (h *harness) view() []discovery.Instance {
	if v := h.agg.View("api"); v != nil {
		return v.Instances
	}
	return nil
}

func (h *harness) status() discovery.SourceStatus { return h.agg.Status()[0] }

func addrs(ins []discovery.Instance) []string {
	out := []string{}
	for _, in := range ins {
		out = append(out, in.Addr.String())
	}
	return out
}

func host(addr string, edit func(*nacostest.Host)) nacostest.Host {
	h := nacostest.Instance(addr)
	if edit != nil {
		edit(&h)
	}
	return h
}

func TestInstancesAppearWithLabelsLocalityAndMetadata(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("prod", "shop", "api-svc",
		host("10.0.0.1:8080", func(h *nacostest.Host) {
			h.Cluster = "cn-north-1a"
			h.Metadata = map[string]string{"version": "v2", "cloud": "ctyun", "region": "cn-north-1", "az": "cn-north-1a"}
		}),
		host("[fd00::2]:8080", func(h *nacostest.Host) { h.Cluster = "cn-north-1b" }),
	)
	srv.Set("prod", "shop", "other", nacostest.Instance("10.9.9.9:1"))
	h := start(t, nacos.Config{
		Servers: []string{srv.Addr()}, Namespace: "prod", Group: "shop", Name: "api-svc",
		Locality:     discovery.Locality{Cloud: "huawei", Region: "cn-south-1"},
		LocalityKeys: nacos.LocalityKeys{Zone: "az"},
	}, newClock())

	want := []discovery.Instance{
		{
			ID: "10.0.0.1:8080", Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100,
			Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"},
			Labels:   map[string]string{"version": "v2", "cloud": "ctyun", "region": "cn-north-1", "az": "cn-north-1a"},
			Source:   "nacos:prod/shop/api-svc",
			Metadata: map[string]string{"nacos_cluster": "cn-north-1a", "nacos_instance_id": "10.0.0.1#8080#cn-north-1a#shop@@api-svc"},
		},
		{
			ID: "[fd00::2]:8080", Addr: netip.MustParseAddrPort("[fd00::2]:8080"), Weight: 100,
			Locality: discovery.Locality{Cloud: "huawei", Region: "cn-south-1"},
			Source:   "nacos:prod/shop/api-svc",
			Metadata: map[string]string{"nacos_cluster": "cn-north-1b", "nacos_instance_id": "fd00::2#8080#cn-north-1b#shop@@api-svc"},
		},
	}
	if diff := cmp.Diff(want, h.view(), cmpAddr); diff != "" {
		t.Errorf("view (-want +got):\n%s", diff)
	}
	q := srv.LastQuery()
	for k, v := range map[string]string{"namespaceId": "prod", "groupName": "shop", "serviceName": "shop@@api-svc", "healthyOnly": "false"} {
		if got := q.Get(k); got != v {
			t.Errorf("list query %s = %q, want %q (query %v)", k, got, v, q)
		}
	}

	t.Run("a change shows at the next poll", func(t *testing.T) {
		srv.Set("prod", "shop", "api-svc", nacostest.Instance("10.0.0.3:8080"))
		h.poll()
		if got := addrs(h.view()); !cmp.Equal(got, []string{"10.0.0.3:8080"}) {
			t.Errorf("view = %v, want [10.0.0.3:8080]", got)
		}
	})
}

func TestClustersFilter(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("", "", "api",
		host("10.0.0.1:80", func(h *nacostest.Host) { h.Cluster = "a" }),
		host("10.0.0.2:80", func(h *nacostest.Host) { h.Cluster = "b" }),
		host("10.0.0.3:80", func(h *nacostest.Host) { h.Cluster = "c" }),
	)
	h := start(t, nacos.Config{Servers: []string{srv.Addr()}, Clusters: []string{"a", "c"}}, newClock())
	if got, want := addrs(h.view()), []string{"10.0.0.1:80", "10.0.0.3:80"}; !cmp.Equal(got, want) {
		t.Errorf("view = %v, want %v", got, want)
	}
	if got := srv.LastQuery().Get("clusters"); got != "a,c" {
		t.Errorf("list query clusters = %q, want a,c", got)
	}
}

func TestWeightsKeepTheirRatios(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []float64
		want    []uint32
	}{
		{"the default 1.0 is the default weight 100", []float64{1}, []uint32{100}},
		{"decimals keep two places", []float64{0.5, 1, 2.25}, []uint32{50, 100, 225}},
		{"weight 0 stays drained", []float64{0, 1}, []uint32{0, 100}},
		{"a tiny weight is at least 1", []float64{0.001, 1}, []uint32{1, 100}},
		{"large weights are scaled down together", []float64{10000, 5000, 1}, []uint32{65535, 32768, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := nacostest.NewServer(nacostest.Config{})
			defer srv.Close()
			var hosts []nacostest.Host
			for i, w := range tc.weights {
				hosts = append(hosts, host(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80).String(),
					func(h *nacostest.Host) { h.Weight = w }))
			}
			srv.Set("", "", "api", hosts...)
			h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
			var got []uint32
			for _, in := range h.view() {
				got = append(got, in.Weight)
			}
			if !cmp.Equal(got, tc.want) {
				t.Errorf("weights of %v = %v, want %v", tc.weights, got, tc.want)
			}
		})
	}
}

func TestHealthAndEnabled(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("", "", "api",
		nacostest.Instance("10.0.0.1:80"),
		host("10.0.0.2:80", func(h *nacostest.Host) { h.Healthy = false }),
		host("10.0.0.3:80", func(h *nacostest.Host) { h.Enabled = false }),
	)
	h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
	v := h.view()
	if got := addrs(v); !cmp.Equal(got, []string{"10.0.0.1:80"}) {
		t.Errorf("view = %v, want only the healthy, enabled 10.0.0.1:80", got)
	}
	if len(v) == 1 && v[0].HealthUnknown {
		t.Errorf("a healthy instance below the protect threshold has HealthUnknown set: %+v", v[0])
	}
}

func TestProtectThresholdMeansHealthUnknown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold float64
		healthy   []bool
	}{
		{"every instance unhealthy, default threshold 0", 0, []bool{false, false}},
		{"one of three healthy, threshold 0.5", 0.5, []bool{true, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := nacostest.NewServer(nacostest.Config{})
			defer srv.Close()
			var hosts []nacostest.Host
			for i, ok := range tc.healthy {
				hosts = append(hosts, host(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80).String(),
					func(h *nacostest.Host) { h.Healthy = ok }))
			}
			srv.Set("", "", "api", hosts...)
			srv.SetProtectThreshold("", "", "api", tc.threshold)
			h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
			v := h.view()
			if len(v) != len(tc.healthy) {
				t.Fatalf("view = %v, want all %d instances (Nacos lists them all past the threshold)", addrs(v), len(tc.healthy))
			}
			for _, in := range v {
				if !in.HealthUnknown {
					t.Errorf("instance %s: HealthUnknown = false, want true (Nacos rewrote its health)", in.Addr)
				}
			}
		})
	}
	t.Run("health is known again once the service recovers", func(t *testing.T) {
		srv := nacostest.NewServer(nacostest.Config{})
		defer srv.Close()
		srv.Set("", "", "api", host("10.0.0.1:80", func(h *nacostest.Host) { h.Healthy = false }))
		h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
		if v := h.view(); len(v) != 1 || !v[0].HealthUnknown {
			t.Fatalf("view = %+v, want one instance with HealthUnknown", v)
		}
		srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"), host("10.0.0.2:80", func(h *nacostest.Host) { h.Healthy = false }))
		h.poll()
		if v := h.view(); len(v) != 1 || v[0].HealthUnknown {
			t.Errorf("view = %+v, want the one healthy instance, health known", v)
		}
	})
}

func TestEmptyListKeepsTheLastGoodView(t *testing.T) {
	clk := newClock()
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"), nacostest.Instance("10.0.0.2:80"))
	h := start(t, nacos.Config{Servers: []string{srv.Addr()}, EmptyGrace: time.Minute}, clk)
	good := addrs(h.view())

	t.Run("a restarting member's empty list is held back", func(t *testing.T) {
		srv.SetRestarting(true)
		h.poll()
		clk.Advance(30 * time.Second)
		h.poll()
		if got := addrs(h.view()); !cmp.Equal(got, good) {
			t.Errorf("view = %v, want the last good %v", got, good)
		}
		if st := h.status(); !st.Stale || !errors.Is(st.Err, nacos.ErrEmptyAnswer) {
			t.Errorf("status = %+v, want stale with ErrEmptyAnswer", st)
		}
	})
	t.Run("the instances are back when the member is", func(t *testing.T) {
		srv.SetRestarting(false)
		h.poll()
		if got := addrs(h.view()); !cmp.Equal(got, good) {
			t.Errorf("view = %v, want %v", got, good)
		}
		if st := h.status(); st.Stale {
			t.Errorf("status = %+v, want not stale", st)
		}
	})
	t.Run("an empty list that lasts EmptyGrace is believed", func(t *testing.T) {
		srv.Set("", "", "api")
		h.poll()
		if got := addrs(h.view()); !cmp.Equal(got, good) {
			t.Fatalf("view = %v right after the list emptied, want the last good %v", got, good)
		}
		clk.Advance(time.Minute)
		h.poll()
		if v := h.agg.View("api"); v == nil || len(v.Instances) != 0 {
			t.Errorf("view = %+v, want an empty view", v)
		}
	})
	t.Run("disabling the last instance is held back too", func(t *testing.T) {
		srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
		h.poll()
		srv.Set("", "", "api", host("10.0.0.1:80", func(h *nacostest.Host) { h.Enabled = false }))
		h.poll()
		// The server drops disabled instances, so it lists nothing,
		// which cannot be told from a restarting member.
		if got := addrs(h.view()); len(got) != 1 {
			t.Errorf("view = %v, want the last good instance held", got)
		}
	})
}

func TestEmptyListIsAskedOfTheOtherServers(t *testing.T) {
	a := nacostest.NewServer(nacostest.Config{})
	defer a.Close()
	b := nacostest.NewServer(nacostest.Config{})
	defer b.Close()
	for _, s := range []*nacostest.Server{a, b} {
		s.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
	}
	h := start(t, nacos.Config{Servers: []string{a.Addr(), b.Addr()}}, newClock())
	a.SetRestarting(true)
	b.Set("", "", "api", nacostest.Instance("10.0.0.1:80"), nacostest.Instance("10.0.0.2:80"))
	// Whichever member the source asks first, the one that still knows
	// the instances wins.
	h.poll()
	h.poll()
	if got, want := addrs(h.view()), []string{"10.0.0.1:80", "10.0.0.2:80"}; !cmp.Equal(got, want) {
		t.Errorf("view = %v, want %v from the member that is not restarting", got, want)
	}
	if st := h.status(); st.Stale {
		t.Errorf("status = %+v, want not stale: a member answered", st)
	}
}

func TestServerFailover(t *testing.T) {
	a := nacostest.NewServer(nacostest.Config{})
	defer a.Close()
	b := nacostest.NewServer(nacostest.Config{})
	defer b.Close()
	for _, s := range []*nacostest.Server{a, b} {
		s.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
	}
	h := start(t, nacos.Config{Servers: []string{a.Addr(), b.Addr()}}, newClock())
	a.Close()
	b.Set("", "", "api", nacostest.Instance("10.0.0.7:80"))
	h.poll()
	if got := addrs(h.view()); !cmp.Equal(got, []string{"10.0.0.7:80"}) {
		t.Errorf("view = %v, want [10.0.0.7:80] from the server left", got)
	}
	if st := h.status(); st.Stale {
		t.Errorf("status = %+v, want not stale: one server answered", st)
	}
	t.Run("every server down keeps the last good view", func(t *testing.T) {
		b.Close()
		h.poll()
		if got := addrs(h.view()); !cmp.Equal(got, []string{"10.0.0.7:80"}) {
			t.Errorf("view = %v, want the last good [10.0.0.7:80]", got)
		}
		if st := h.status(); !st.Stale || st.Err == nil {
			t.Errorf("status = %+v, want stale with an error", st)
		}
	})
}

func TestLogin(t *testing.T) {
	t.Run("the token is renewed before it expires", func(t *testing.T) {
		clk := newClock()
		srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "s3cret", TokenTTL: 100 * time.Second, Now: clk.Now})
		defer srv.Close()
		srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
		h := start(t, nacos.Config{Servers: []string{srv.Addr()}, Username: "nacos", Password: "s3cret"}, clk)
		if len(h.view()) != 1 {
			t.Fatalf("view = %v, want one instance", addrs(h.view()))
		}
		clk.Advance(50 * time.Second)
		h.poll()
		if st := srv.Stats(); st.Logins != 1 {
			t.Errorf("logins after half the TTL = %d, want 1 (the token is still good)", st.Logins)
		}
		clk.Advance(41 * time.Second) // 91s: past nine tenths of 100s
		h.poll()
		st := srv.Stats()
		if st.Logins != 2 || st.Rejected != 0 {
			t.Errorf("stats = %+v, want a second login and no rejected request", st)
		}
		if s := h.status(); s.Stale {
			t.Errorf("status = %+v, want not stale", s)
		}
	})
	t.Run("a revoked token is replaced in the same poll", func(t *testing.T) {
		clk := newClock()
		srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "s3cret", Now: clk.Now})
		defer srv.Close()
		srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
		h := start(t, nacos.Config{Servers: []string{srv.Addr()}, Username: "nacos", Password: "s3cret"}, clk)
		srv.RevokeTokens()
		srv.Set("", "", "api", nacostest.Instance("10.0.0.2:80"))
		h.poll()
		if got := addrs(h.view()); !cmp.Equal(got, []string{"10.0.0.2:80"}) {
			t.Errorf("view = %v, want [10.0.0.2:80]", got)
		}
		if st := srv.Stats(); st.Logins != 2 || st.Rejected != 1 {
			t.Errorf("stats = %+v, want 2 logins and the one rejected list", st)
		}
	})
	t.Run("wrong credentials are ErrAuth", func(t *testing.T) {
		srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "s3cret"})
		defer srv.Close()
		srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
		h := start(t, nacos.Config{Servers: []string{srv.Addr()}, Username: "nacos", Password: "wrong"}, newClock())
		if st := h.status(); !errors.Is(st.Err, nacos.ErrAuth) {
			t.Errorf("status = %+v, want ErrAuth", st)
		}
		if h.agg.View("api") != nil {
			t.Errorf("view = %+v, want none", h.agg.View("api"))
		}
	})
	t.Run("no credentials against a server that needs them is ErrAuth", func(t *testing.T) {
		srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "s3cret"})
		defer srv.Close()
		h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
		if st := h.status(); !errors.Is(st.Err, nacos.ErrAuth) {
			t.Errorf("status = %+v, want ErrAuth", st)
		}
	})
}

func TestV1DisabledIsErrAPIDisabled(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{V1Disabled: true})
	defer srv.Close()
	h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
	if st := h.status(); !errors.Is(st.Err, nacos.ErrAPIDisabled) {
		t.Errorf("status = %+v, want ErrAPIDisabled", st)
	}
	if srv.Stats().Gone == 0 {
		t.Error("the server answered no 410")
	}
}

func TestBadHostsAreLeftOut(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("", "", "api",
		nacostest.Instance("10.0.0.1:80"),
		host("api-2.internal:80", nil),
		host("10.0.0.3:80", func(h *nacostest.Host) { h.Weight = -1 }),
		host("10.0.0.4:80", func(h *nacostest.Host) { h.Metadata = map[string]string{"note": string(make([]byte, 300))} }),
	)
	h := start(t, nacos.Config{Servers: []string{srv.Addr()}}, newClock())
	if got, want := addrs(h.view()), []string{"10.0.0.1:80", "10.0.0.4:80"}; !cmp.Equal(got, want) {
		t.Errorf("view = %v, want %v", got, want)
	}
	if st := h.status(); !errors.Is(st.Err, nacos.ErrBadInstance) {
		t.Errorf("status = %+v, want ErrBadInstance", st)
	}
}

func TestSilentServerDoesNotHangTheSource(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Set("", "", "api", nacostest.Instance("10.0.0.1:80"))
	h := start(t, nacos.Config{Servers: []string{srv.Addr()}, Timeout: 200 * time.Millisecond}, newClock())
	srv.Hang(true)
	defer srv.Hang(false)
	h.poll() // returns: the request is bounded by Timeout
	if st := h.status(); !st.Stale || !errors.Is(st.Err, context.DeadlineExceeded) {
		t.Errorf("status = %+v, want stale with a deadline error", st)
	}
	if got := addrs(h.view()); !cmp.Equal(got, []string{"10.0.0.1:80"}) {
		t.Errorf("view = %v, want the last good one", got)
	}
}

func TestCancelStopsWatchDuringAHungRequest(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{})
	defer srv.Close()
	srv.Hang(true)
	defer srv.Hang(false)
	src, err := nacos.NewSource(nacos.Config{Service: "api", Servers: []string{srv.Addr()}, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, nopUpdater{}) }()
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

func TestNewSourceRefusesBadConfig(t *testing.T) {
	ok := nacos.Config{Service: "api", Servers: []string{"127.0.0.1:8848"}}
	for _, tc := range []struct {
		name string
		edit func(*nacos.Config)
	}{
		{"no service", func(c *nacos.Config) { c.Service = "" }},
		{"no servers", func(c *nacos.Config) { c.Servers = nil }},
		{"a server with a query", func(c *nacos.Config) { c.Servers = []string{"http://a:8848/nacos?x=1"} }},
		{"a server with another scheme", func(c *nacos.Config) { c.Servers = []string{"grpc://a:9848"} }},
		{"a grouped name", func(c *nacos.Config) { c.Name = "G@@api" }},
		{"an empty cluster", func(c *nacos.Config) { c.Clusters = []string{""} }},
		{"a cluster with a comma", func(c *nacos.Config) { c.Clusters = []string{"a,b"} }},
		{"a password without a user", func(c *nacos.Config) { c.Password = "x" }},
		{"an interval below 1s", func(c *nacos.Config) { c.Interval = 100 * time.Millisecond }},
		{"an interval above 10m", func(c *nacos.Config) { c.Interval = time.Hour }},
		{"a negative timeout", func(c *nacos.Config) { c.Timeout = -1 }},
		{"a locality with a slash", func(c *nacos.Config) { c.Locality.Zone = "a/b" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			if _, err := nacos.NewSource(cfg); !errors.Is(err, nacos.ErrConfig) {
				t.Errorf("NewSource(%+v) = %v, want ErrConfig", cfg, err)
			}
		})
	}
	t.Run("servers get the default port and context path", func(t *testing.T) {
		cfg := ok
		cfg.Servers = []string{"10.0.0.1", "https://nacos.example.com/ns/", "[fd00::1]:8848"}
		src, err := nacos.NewSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"http://10.0.0.1:8848/nacos", "https://nacos.example.com:8848/ns", "http://[fd00::1]:8848/nacos"}
		if got := src.Servers(); !cmp.Equal(got, want) {
			t.Errorf("Servers() = %v, want %v", got, want)
		}
		if got := src.Name(); got != "nacos:public/DEFAULT_GROUP/api" {
			t.Errorf("Name() = %q", got)
		}
	})
}
