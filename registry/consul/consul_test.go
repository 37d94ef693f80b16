package consul_test

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
	consulsrc "github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/discovery/consul/consultest"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	"github.com/duohuo/duohuo/registry/consul"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func instance() discovery.Instance {
	return discovery.Instance{
		Addr: netip.MustParseAddrPort("10.0.0.7:8080"), Weight: 300,
		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"},
		Labels:   map[string]string{"version": "v2"},
	}
}

// follow runs discovery/consul on the agent, as a gateway would.
func follow(t *testing.T, agent string) *discovery.Aggregator {
	t.Helper()
	src, err := consulsrc.NewSource(consulsrc.Config{Service: "api", Servers: []string{agent}, Token: "secret", Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard})
	t.Cleanup(func() { agg.Close() })
	if err := agg.Add(src); err != nil {
		t.Fatal(err)
	}
	return agg
}

// registered reports whether the view holds the registered instance, as
// registered. The service also has another instance, so that taking ours
// out does not empty it.
func registered(want bool) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		if v == nil {
			return !want
		}
		for _, in := range v.Instances {
			if in.Addr.String() == "10.0.0.7:8080" {
				return want && in.Weight == 300 && in.Locality.Zone == "cn-north-1a" && in.Labels["version"] == "v2"
			}
		}
		return !want
	}
}

func config(agents ...string) consul.Config {
	return consul.Config{Agents: agents, Service: "api", Instance: instance(), Token: "secret", TTL: 300 * time.Millisecond, DeregisterAfter: time.Second, Logger: discard}
}

// What Register writes (weights, locality, labels), discovery/consul reads
// as the same instance; passes keep it passing past its TTL; Close takes
// it out at once.
func TestRegisterPassThenCloseDeregisters(t *testing.T) {
	agent := consultest.NewServer(consultest.Config{Token: "secret"})
	defer agent.Close()
	agent.Set("api", consultest.Instance("10.0.0.8:8080"))
	agg := follow(t, agent.URL())
	reg, err := consul.Register(t.Context(), config(agent.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if reg.ID() != "api-10.0.0.7:8080" {
		t.Errorf("ID = %q", reg.ID())
	}
	discoverytest.WaitView(t, agg, "api", registered(true))
	for agent.AgentStats().Passes < 6 { // two TTLs
		time.Sleep(20 * time.Millisecond)
	}
	if st := agent.CheckStatus("service:" + reg.ID()); st != "passing" {
		t.Fatalf("check %s after two TTLs of passes, want passing", st)
	}
	if err := reg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := agent.AgentStats().Deregistrations; n != 1 {
		t.Errorf("%d deregistrations, want 1", n)
	}
	discoverytest.WaitView(t, agg, "api", registered(false))
}

// An agent that stops answering: the check turns critical (the instance
// leaves the view), then the agent removes the service; once the agent
// answers again the registration notices (404 on its pass) and registers
// again.
func TestPassesResumeAfterAnOutage(t *testing.T) {
	agent := consultest.NewServer(consultest.Config{Token: "secret"})
	defer agent.Close()
	agent.Set("api", consultest.Instance("10.0.0.8:8080"))
	reg, err := consul.Register(t.Context(), config(agent.URL()))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(context.Background())
	agent.Hang(true)
	for agent.AgentStats().Reaped == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	agent.Hang(false)
	for agent.CheckStatus("service:"+reg.ID()) != "passing" || reg.Err() != nil {
		time.Sleep(20 * time.Millisecond)
	}
	if n := agent.AgentStats().Registrations; n != 2 {
		t.Errorf("%d registrations, want 2 (the first and the one after the removal)", n)
	}
}

func TestRegisterErrors(t *testing.T) {
	agent := consultest.NewServer(consultest.Config{Token: "secret"})
	defer agent.Close()
	bad := func(f func(*consul.Config)) consul.Config { c := config(agent.URL()); f(&c); return c }
	for _, tc := range []struct {
		name   string
		cfg    consul.Config
		config bool // ErrConfig, else the agent's refusal
	}{
		{"no agent", bad(func(c *consul.Config) { c.Agents = nil }), true},
		{"an agent that is not http", bad(func(c *consul.Config) { c.Agents = []string{"ftp://127.0.0.1"} }), true},
		{"no service", bad(func(c *consul.Config) { c.Service = "" }), true},
		{"no address", bad(func(c *consul.Config) { c.Instance.Addr = netip.AddrPort{} }), true},
		{"a TTL too short", bad(func(c *consul.Config) { c.TTL = time.Millisecond }), true},
		{"a wrong token", bad(func(c *consul.Config) { c.Token = "nope" }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := consul.Register(t.Context(), tc.cfg)
			if err == nil {
				reg.Close(context.Background())
				t.Fatal("Register succeeded")
			}
			if errors.Is(err, consul.ErrConfig) != tc.config {
				t.Errorf("Register = %v; ErrConfig %v, want %v", err, errors.Is(err, consul.ErrConfig), tc.config)
			}
		})
	}
}
