package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/duohuo/duohuo/discovery/consul/consultest"
	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
	"github.com/duohuo/duohuo/internal/gateway"
)

// A service discovered from a registry (a fake Nacos or Consul server on
// loopback) routes to the instances registered there, real HTTP servers; an
// instance deregistered in the registry stops receiving traffic once the
// source has seen the change (the next poll, or the return of the blocking
// query).
func TestRegistryDiscoveredService(t *testing.T) {
	type registry struct {
		source string                    // the discovery entry, %s is the server
		addr   string                    // the registry's address
		set    func(instances ...string) // registers exactly these
		close  func()
	}
	registries := map[string]func() registry{
		"nacos": func() registry {
			srv := nacostest.NewServer(nacostest.Config{})
			return registry{
				source: "nacos: {servers: [\"%s\"], group: shop, name: api-svc, interval: 1s}",
				addr:   srv.Addr(),
				set: func(addrs ...string) {
					var hosts []nacostest.Host
					for _, a := range addrs {
						hosts = append(hosts, nacostest.Instance(a))
					}
					srv.Set("", "shop", "api-svc", hosts...)
				},
				close: srv.Close,
			}
		},
		"nacos with login": func() registry {
			srv := nacostest.NewServer(nacostest.Config{Username: "duohuo", Password: "pa55"})
			pw := filepath.Join(t.TempDir(), "nacos-password")
			if err := os.WriteFile(pw, []byte("pa55\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return registry{
				source: "nacos: {servers: [\"%s\"], name: api-svc, interval: 1s, username: duohuo, password_file: " + pw + "}",
				addr:   srv.Addr(),
				set: func(addrs ...string) {
					var hosts []nacostest.Host
					for _, a := range addrs {
						hosts = append(hosts, nacostest.Instance(a))
					}
					srv.Set("", "", "api-svc", hosts...)
				},
				close: srv.Close,
			}
		},
		"consul": func() registry {
			srv := consultest.NewServer(consultest.Config{})
			return registry{
				source: "consul: {servers: [\"%s\"], name: api-svc, wait: 5s, rate_interval: 10ms}",
				addr:   srv.Addr(),
				set: func(addrs ...string) {
					var entries []consultest.Entry
					for _, a := range addrs {
						entries = append(entries, consultest.Instance(a))
					}
					srv.Set("api-svc", entries...)
				},
				close: srv.Close,
			}
		},
	}
	for name, newRegistry := range registries {
		t.Run(name, func(t *testing.T) {
			reg := newRegistry()
			defer reg.close()
			a, b := upstream(t, "a"), upstream(t, "b")
			reg.set(a, b)
			cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    health: {active: {type: none}}
    discovery:
      - `+reg.source+`
routes: [{name: all, service: api, retry: {attempts: 0}}]
`, reg.addr)
			g := start(t, parse(t, cfg), "")
			defer g.Shutdown(context.Background())
			url := "http://" + g.Addrs()[0] + "/"
			c := &http.Client{Timeout: 5 * time.Second}
			defer c.CloseIdleConnections()
			get := func() string {
				t.Helper()
				resp, err := c.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Fatalf("GET = %d %q, want 200", resp.StatusCode, body)
				}
				return string(body)
			}

			waitInstances(t, g, 2)
			seen := map[string]int{}
			for i := 0; i < 200 && (seen["a"] == 0 || seen["b"] == 0); i++ {
				seen[get()]++
			}
			if seen["a"] == 0 || seen["b"] == 0 {
				t.Fatalf("answers from the registry's two instances: %v, want both", seen)
			}

			reg.set(a) // b deregistered
			waitInstances(t, g, 1)
			for range 50 {
				if got := get(); got != "a" {
					t.Fatalf("after b was deregistered, GET answered from %q, want a", got)
				}
			}
		})
	}
}

// waitInstances waits until the service api has n instances in its
// balancer: the registry's change has been seen and applied.
func waitInstances(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("api to have %d instances", n), 10*time.Millisecond, func() bool {
		total := 0
		for _, tier := range g.Stats("api").Tiers {
			total += tier.Total
		}
		return total == n
	})
}

// Registry trouble under load costs no request: a Nacos member that lists
// no instances for 30 s while it restarts (empty_grace keeps the last
// instances), a Consul agent that stops answering (silent, then refusing),
// each while clients send requests through the gateway to the registered
// instances. The instances themselves stay up, so every request must get
// its 200.
func TestRegistryOutageUnderLoadFailsNoRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: a 30 s outage under load (runs in the full suite)")
	}
	type registry struct {
		source string
		addr   string
		set    func(instances ...string)
		outage func(t *testing.T) // the trouble, for its whole duration
		close  func()
	}
	registries := map[string]func() registry{
		"nacos restarting": func() registry {
			srv := nacostest.NewServer(nacostest.Config{})
			return registry{
				source: "nacos: {servers: [\"%s\"], name: api-svc, interval: 1s}",
				addr:   srv.Addr(),
				set: func(addrs ...string) {
					var hosts []nacostest.Host
					for _, a := range addrs {
						hosts = append(hosts, nacostest.Instance(a))
					}
					srv.Set("", "", "api-svc", hosts...)
				},
				outage: func(t *testing.T) {
					srv.SetRestarting(true)
					time.Sleep(30 * time.Second) // 30 polls of an empty list
					srv.SetRestarting(false)
				},
				close: srv.Close,
			}
		},
		"consul silent then gone": func() registry {
			srv := consultest.NewServer(consultest.Config{})
			return registry{
				source: "consul: {servers: [\"%s\"], name: api-svc, wait: 2s, timeout: 1s, rate_interval: 10ms}",
				addr:   srv.Addr(),
				set: func(addrs ...string) {
					var entries []consultest.Entry
					for _, a := range addrs {
						entries = append(entries, consultest.Instance(a))
					}
					srv.Set("api-svc", entries...)
				},
				outage: func(t *testing.T) {
					srv.Hang(true)
					time.Sleep(10 * time.Second)
					srv.Close() // refused from now on
					time.Sleep(10 * time.Second)
				},
				close: srv.Close,
			}
		},
	}
	for name, newRegistry := range registries {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistry()
			defer reg.close()
			a, b := upstream(t, "a"), upstream(t, "b")
			reg.set(a, b)
			cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery:
      - `+reg.source+`
routes: [{name: all, service: api}]
`, reg.addr)
			g := start(t, parse(t, cfg), "")
			defer g.Shutdown(context.Background())
			waitInstances(t, g, 2)
			// Paced (at most 2 × 200 requests a second) so that the load
			// lasts the whole outage within its bound of 20,000 each.
			l := startPacedLoad("http://"+g.Addrs()[0]+"/", 2, 5*time.Millisecond)
			reg.outage(t)
			running := l.ok.Load() + l.failed.Load()
			l.finish()
			if running >= 2*20000 {
				t.Errorf("the load reached its bound before the outage ended")
			}
			if n := l.failed.Load(); n != 0 {
				t.Errorf("%d of %d requests failed during the registry's trouble (first: %v)", n, n+l.ok.Load(), l.firstErr.Load())
			}
			if l.ok.Load() == 0 {
				t.Error("no request succeeded")
			}
			by := l.reset()
			if by["a"] == 0 || by["b"] == 0 {
				t.Errorf("answers by instance %v; want both to keep serving", by)
			}
			total := 0
			for _, tier := range g.Stats("api").Tiers {
				total += tier.Total
			}
			if total != 2 {
				t.Errorf("after the trouble the balancer has %d instances, want the 2 registered", total)
			}
			t.Logf("%d requests, 0 failed, by instance %v", l.ok.Load(), by)
		})
	}
}
