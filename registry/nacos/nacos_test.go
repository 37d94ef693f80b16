package nacos_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	nacossrc "github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
	"github.com/duohuo/duohuo/registry/nacos"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func instance() discovery.Instance {
	return discovery.Instance{
		Addr: netip.MustParseAddrPort("10.0.0.7:8080"), Weight: 50,
		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"},
		Labels:   map[string]string{"version": "v2"},
	}
}

// follow runs discovery/nacos on the servers, as a gateway would, polling
// every second, its shortest interval.
func follow(t *testing.T, servers ...string) *discovery.Aggregator {
	t.Helper()
	src, err := nacossrc.NewSource(nacossrc.Config{Service: "api", Servers: servers, Interval: time.Second, Username: "nacos", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard, DropShare: 0})
	t.Cleanup(func() { agg.Close() })
	if err := agg.Add(src); err != nil {
		t.Fatal(err)
	}
	return agg
}

// registered reports whether the view holds the registered instance, as
// registered. The service also has another instance, so that the
// deregistration does not empty it (discovery/nacos holds back an empty
// list for a while, as a registry restarting answers one).
func registered(want bool) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		if v == nil {
			return !want
		}
		for _, in := range v.Instances {
			if in.Addr.String() == "10.0.0.7:8080" {
				return want && in.Weight == 50 && in.Locality.Zone == "cn-north-1a" && in.Labels["version"] == "v2"
			}
		}
		return !want
	}
}

func config(servers ...string) nacos.Config {
	return nacos.Config{Servers: servers, Service: "api", Instance: instance(), Username: "nacos", Password: "pw", Interval: 100 * time.Millisecond, Logger: discard}
}

// What Register writes (weight, locality, metadata), discovery/nacos reads
// as the same instance; heartbeats keep it; Close takes it out at once.
func TestRegisterHeartbeatThenCloseDeregisters(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "pw", BeatTimeout: 300 * time.Millisecond, DeleteTimeout: 600 * time.Millisecond})
	defer srv.Close()
	srv.Set("", "", "api", nacostest.Instance("10.0.0.8:8080"))
	agg := follow(t, srv.URL())
	reg, err := nacos.Register(t.Context(), config(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", registered(true))
	// Beyond the delete timeout, the heartbeats have kept it.
	for srv.Stats().Beats < 8 {
		time.Sleep(20 * time.Millisecond)
	}
	if hs := srv.Hosts("", "", "api"); len(hs) != 2 || !hs[1].Healthy || hs[1].Weight != 0.5 {
		t.Fatalf("hosts after 8 beats: %+v, want the registered one healthy, of weight 0.5", hs)
	}
	if err := reg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Stats().Deregistrations != 1 {
		t.Errorf("stats %+v, want one deregistration", srv.Stats())
	}
	discoverytest.WaitView(t, agg, "api", registered(false))
}

// A server that stops answering: the instance turns unhealthy, then goes,
// as for a dead process; once the server answers again the next heartbeat
// registers it again (a beat carries the instance).
func TestHeartbeatsResumeAfterAnOutage(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "pw", BeatTimeout: 300 * time.Millisecond, DeleteTimeout: 600 * time.Millisecond})
	defer srv.Close()
	reg, err := nacos.Register(t.Context(), config(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(context.Background())
	srv.Hang(true)
	for len(srv.Hosts("", "", "api")) != 0 {
		time.Sleep(20 * time.Millisecond)
	}
	for reg.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	srv.Hang(false)
	for {
		hs := srv.Hosts("", "", "api")
		if len(hs) == 1 && hs[0].Healthy && reg.Err() == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The server forgetting every instance (a restart of a standalone
	// server): the next beat brings it back too.
	srv.Set("", "", "api")
	for len(srv.Hosts("", "", "api")) != 1 {
		time.Sleep(20 * time.Millisecond)
	}
}

// The first server refuses connections: Register and the heartbeats use
// the second; a token the servers stop accepting is renewed by a login.
func TestFailoverAndLoginAgain(t *testing.T) {
	dead := nacostest.NewServer(nacostest.Config{})
	deadURL := dead.URL()
	dead.Close()
	srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "pw"})
	defer srv.Close()
	reg, err := nacos.Register(t.Context(), config(deadURL, srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(context.Background())
	logins := srv.Stats().Logins
	srv.RevokeTokens()
	for srv.Stats().Logins == logins {
		time.Sleep(20 * time.Millisecond)
	}
	beats := srv.Stats().Beats
	for srv.Stats().Beats == beats {
		time.Sleep(20 * time.Millisecond)
	}
	if reg.Err() != nil {
		t.Errorf("Err = %v after the new login", reg.Err())
	}
}

func TestRegisterErrors(t *testing.T) {
	srv := nacostest.NewServer(nacostest.Config{Username: "nacos", Password: "pw"})
	defer srv.Close()
	bad := func(f func(*nacos.Config)) nacos.Config { c := config(srv.URL()); f(&c); return c }
	for _, tc := range []struct {
		name   string
		cfg    nacos.Config
		config bool // ErrConfig, else a server's refusal
	}{
		{"no server", bad(func(c *nacos.Config) { c.Servers = nil }), true},
		{"a server that is not http", bad(func(c *nacos.Config) { c.Servers = []string{"ftp://10.0.0.1"} }), true},
		{"no service", bad(func(c *nacos.Config) { c.Service = "" }), true},
		{"no address", bad(func(c *nacos.Config) { c.Instance.Addr = netip.AddrPort{} }), true},
		{"a heartbeat too rare", bad(func(c *nacos.Config) { c.Interval = time.Minute }), true},
		{"a wrong password", bad(func(c *nacos.Config) { c.Password = "nope" }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := nacos.Register(t.Context(), tc.cfg)
			if err == nil {
				reg.Close(context.Background())
				t.Fatal("Register succeeded")
			}
			if errors.Is(err, nacos.ErrConfig) != tc.config {
				t.Errorf("Register = %v; ErrConfig %v, want %v", err, errors.Is(err, nacos.ErrConfig), tc.config)
			}
		})
	}
}
