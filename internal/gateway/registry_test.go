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
