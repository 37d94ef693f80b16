package etcd_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/discoverytest"
	"github.com/duohuo/duohuo/discovery/etcd"
	"github.com/duohuo/duohuo/internal/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, etcdtest.LeakOptions()...) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

const prefix = "/duohuo/instances/"

func addrs(v *discovery.ServiceView) []string {
	if v == nil {
		return nil
	}
	out := []string{}
	for _, in := range v.Instances {
		out = append(out, in.Addr.String())
	}
	return out
}

func has(want ...string) func(*discovery.ServiceView) bool {
	return func(v *discovery.ServiceView) bool {
		got := addrs(v)
		return got != nil && slices.Equal(got, want)
	}
}

func setup(t *testing.T, c *etcdtest.Cluster) (*discovery.Aggregator, *clientv3.Client) {
	t.Helper()
	cli := c.Client(t)
	src, err := etcd.NewSource(etcd.Config{Client: cli, Prefix: prefix, Timeout: 500 * time.Millisecond, CheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discard, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	t.Cleanup(func() { a.Close() })
	if err := a.Add(src); err != nil {
		t.Fatal(err)
	}
	return a, cli
}

func put(t *testing.T, cli *clientv3.Client, key, value string, opts ...clientv3.OpOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, value, opts...); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func TestFollowsRegistrations(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	a, cli := setup(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	put(t, cli, prefix+"api/a", `{"addr": "10.0.0.1:80", "weight": 5, "cloud": "ctyun", "labels": {"version": "v2"}}`)
	put(t, cli, prefix+"api/b", `{"addr": "10.0.0.2:80"}`, clientv3.WithLease(lease.ID))
	v := discoverytest.WaitView(t, a, "api", has("10.0.0.1:80", "10.0.0.2:80"))
	if in := v.Instances[0]; in.ID != "a" || in.Weight != 5 || in.Locality.Cloud != "ctyun" || in.Labels["version"] != "v2" {
		t.Errorf("instance from key api/a = %+v, want id a, weight 5, cloud ctyun, version v2", in)
	}
	if in := v.Instances[1]; in.Weight != discovery.DefaultWeight {
		t.Errorf("instance without weight = %+v, want the default weight", in)
	}

	t.Run("a deleted key is dropped", func(t *testing.T) {
		if _, err := cli.Delete(ctx, prefix+"api/a"); err != nil {
			t.Fatal(err)
		}
		discoverytest.WaitView(t, a, "api", has("10.0.0.2:80"))
	})
	t.Run("a revoked lease drops its keys, and the service goes", func(t *testing.T) {
		if _, err := cli.Revoke(ctx, lease.ID); err != nil {
			t.Fatal(err)
		}
		discoverytest.WaitView(t, a, "api", func(v *discovery.ServiceView) bool { return v == nil })
	})
	t.Run("a new service appears", func(t *testing.T) {
		put(t, cli, prefix+"web/w1", `{"addr": "[fd00::1]:443"}`)
		discoverytest.WaitView(t, a, "web", has("[fd00::1]:443"))
	})
}

func TestBadEntryIsLeftOutAndReported(t *testing.T) {
	tests := []struct {
		name, key, value string
	}{
		{"bad JSON", prefix + "api/x", `{"addr": `},
		{"an unknown field", prefix + "api/x", `{"addr": "10.0.0.9:80", "wieght": 3}`},
		{"a host name", prefix + "api/x", `{"addr": "api.local:80"}`},
		{"a weight out of range", prefix + "api/x", `{"addr": "10.0.0.9:80", "weight": 70000}`},
		{"a key without an id", prefix + "api", `{"addr": "10.0.0.9:80"}`},
		{"a bad service name", prefix + "a b/x", `{"addr": "10.0.0.9:80"}`},
		{"an address registered twice", prefix + "api/z", `{"addr": "10.0.0.1:80"}`},
	}
	c := etcdtest.New(t, etcdtest.Config{})
	for _, tt := range tests {
		t.Run(tt.name+" is left out, the rest served", func(t *testing.T) {
			a, cli := setup(t, c)
			svcPrefix := prefix // each case starts from a clean prefix
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := cli.Delete(ctx, svcPrefix, clientv3.WithPrefix()); err != nil {
				t.Fatal(err)
			}
			put(t, cli, prefix+"api/a", `{"addr": "10.0.0.1:80"}`)
			put(t, cli, tt.key, tt.value)
			put(t, cli, prefix+"api/b", `{"addr": "10.0.0.2:80"}`)
			discoverytest.WaitView(t, a, "api", has("10.0.0.1:80", "10.0.0.2:80"))
			eventually(t, "the status reports key "+tt.key, func() bool {
				st := a.Status()[0]
				return st.Stale && errors.Is(st.Err, etcd.ErrBadEntry) && strings.Contains(st.LastError, tt.key)
			})
		})
	}
}

func TestResumesAfterMemberRestart(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	a, cli := setup(t, c)
	put(t, cli, prefix+"api/a", `{"addr": "10.0.0.1:80"}`)
	before := discoverytest.WaitView(t, a, "api", has("10.0.0.1:80"))

	c.Kill(0)
	eventually(t, "the unreachable cluster is reported", func() bool { return a.Status()[0].Stale })
	if got := a.View("api"); got != before {
		t.Errorf("View(api) = %v while etcd is down, want the last good %v", addrs(got), addrs(before))
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	put(t, cli, prefix+"api/b", `{"addr": "10.0.0.2:80"}`)
	discoverytest.WaitView(t, a, "api", has("10.0.0.1:80", "10.0.0.2:80"))
	eventually(t, "the source is fresh again", func() bool { return !a.Status()[0].Stale })
}

// eventually polls cond every 10ms until it holds, failing the test after
// discoverytest.WaitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(discoverytest.WaitTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("not met after %v: %s", discoverytest.WaitTimeout, what)
		}
	}
}

func TestNewSource(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	cli := c.Client(t)
	tests := []struct {
		name string
		cfg  etcd.Config
		ok   bool
	}{
		{"a client and a prefix are enough", etcd.Config{Client: cli, Prefix: "/svc"}, true},
		{"a missing client is refused", etcd.Config{Prefix: "/svc/"}, false},
		{"an empty prefix is refused", etcd.Config{Client: cli}, false},
		{"the whole keyspace is refused", etcd.Config{Client: cli, Prefix: "/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := etcd.NewSource(tt.cfg)
			if tt.ok != (err == nil) || err != nil && !errors.Is(err, etcd.ErrConfig) {
				t.Fatalf("NewSource(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
			if tt.ok && src.Name() != "etcd:/svc/" {
				t.Errorf("Name() = %q, want etcd:/svc/", src.Name())
			}
		})
	}
}
