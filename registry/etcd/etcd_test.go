package etcd_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	etcdsrc "github.com/duohuo/duohuo/discovery/etcd"
	"github.com/duohuo/duohuo/internal/etcdtest"
	"github.com/duohuo/duohuo/registry/etcd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, etcdtest.LeakOptions()...) }

const prefix = "/duohuo/instances/"

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// follow runs discovery/etcd on the prefix, as a gateway would.
func follow(t *testing.T, cli *clientv3.Client) *discovery.Aggregator {
	t.Helper()
	src, err := etcdsrc.NewSource(etcdsrc.Config{Client: cli, Prefix: prefix})
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

func instance() discovery.Instance {
	return discovery.Instance{
		Addr: netip.MustParseAddrPort("10.0.0.7:8080"), Weight: 30,
		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1"},
		Labels:   map[string]string{"version": "v2"},
	}
}

func registered(want bool) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		if !want {
			return v == nil || len(v.Instances) == 0
		}
		if v == nil || len(v.Instances) != 1 {
			return false
		}
		in := v.Instances[0]
		return in.Addr.String() == "10.0.0.7:8080" && in.Weight == 30 && in.Locality.Cloud == "ctyun" && in.Labels["version"] == "v2"
	}
}

// What Register writes, discovery/etcd reads as the same instance; Close
// takes it out at once, long before the lease would run out.
func TestRegisterThenCloseDeregistersAtOnce(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	cli := c.Client(t)
	agg := follow(t, cli)
	reg, err := etcd.Register(t.Context(), etcd.Config{Client: cli, Prefix: prefix, Service: "api", Instance: instance(), TTL: time.Hour, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if reg.Key() != prefix+"api/10.0.0.7:8080" {
		t.Errorf("Key = %q", reg.Key())
	}
	discoverytest.WaitView(t, agg, "api", registered(true))
	if err := reg.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", registered(false))
	if err := reg.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// A lease revoked behind the registration's back (an operator, a cluster
// restored from a snapshot) is noticed: the instance is registered again.
func TestALostLeaseIsRegisteredAgain(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	cli := c.Client(t)
	agg := follow(t, cli)
	reg, err := etcd.Register(t.Context(), etcd.Config{Client: cli, Prefix: prefix, Service: "api", Instance: instance(), Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(context.Background())
	discoverytest.WaitView(t, agg, "api", registered(true))
	resp, err := cli.Get(t.Context(), reg.Key())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("Get %s = %v, %v", reg.Key(), resp, err)
	}
	first := clientv3.LeaseID(resp.Kvs[0].Lease)
	if _, err := cli.Revoke(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := cli.Get(t.Context(), reg.Key())
		if err == nil && len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not registered again under a new lease within a minute (last %v, %v)", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	discoverytest.WaitView(t, agg, "api", registered(true))
}

// A process that dies without closing (its client gone, so no keep-alive)
// is taken out when its lease runs out.
func TestADeadProcessExpires(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	watcher := c.Client(t)
	agg := follow(t, watcher)
	cli, err := c.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := etcd.Register(t.Context(), etcd.Config{Client: cli, Prefix: prefix, Service: "api", Instance: instance(), TTL: 2 * time.Second, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	discoverytest.WaitView(t, agg, "api", registered(true))
	cli.Close() // the process's connection to etcd is gone
	discoverytest.WaitView(t, agg, "api", registered(false))
	if err := reg.Close(context.Background()); err == nil {
		t.Log("Close after the client closed returned nil (the lease was already gone)")
	}
}

func TestRegisterRefusesBadConfig(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	cli := c.Client(t)
	in := instance()
	slash := instance()
	slash.ID = "a/b"
	for _, cfg := range []etcd.Config{
		{Prefix: prefix, Service: "api", Instance: in},
		{Client: cli, Prefix: "/", Service: "api", Instance: in},
		{Client: cli, Prefix: prefix, Service: "no spaces", Instance: in},
		{Client: cli, Prefix: prefix, Service: "api"},
		{Client: cli, Prefix: prefix, Service: "api", Instance: slash},
		{Client: cli, Prefix: prefix, Service: "api", Instance: in, TTL: time.Second},
	} {
		if _, err := etcd.Register(t.Context(), cfg); !errors.Is(err, etcd.ErrConfig) {
			t.Errorf("Register(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
}
