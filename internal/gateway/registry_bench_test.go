package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/duohuo/duohuo/discovery/consul/consultest"
	"github.com/duohuo/duohuo/discovery/nacos/nacostest"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// BenchmarkDeregistrationToBalancer measures, per registry, the time from
// an instance's deregistration in the registry (a fake Nacos or Consul
// server on loopback) to the gateway's balancer no longer holding it: the
// source seeing the change (Nacos: the next poll, interval 1s, the
// shortest; Consul: the blocking query returning), the aggregator, and the
// service's balancer. A request picked after that goes to the other
// instances (TestRegistryDiscoveredService). Each iteration deregisters
// the instance and registers it again.
//
//	go test -run '^$' -bench DeregistrationToBalancer -benchtime 20x ./internal/gateway
func BenchmarkDeregistrationToBalancer(b *testing.B) {
	ok := func() string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		b.Cleanup(s.Close)
		return s.Listener.Addr().String()
	}
	a, c := ok(), ok()
	for _, tc := range []struct {
		name   string
		source func() (yaml string, set func(...string), stop func())
	}{
		{"nacos-poll-1s", func() (string, func(...string), func()) {
			srv := nacostest.NewServer(nacostest.Config{})
			return fmt.Sprintf("nacos: {servers: [%q], name: api-svc, interval: 1s}", srv.Addr()), func(addrs ...string) {
				var hs []nacostest.Host
				for _, x := range addrs {
					hs = append(hs, nacostest.Instance(x))
				}
				srv.Set("", "", "api-svc", hs...)
			}, srv.Close
		}},
		{"consul-blocking", func() (string, func(...string), func()) {
			srv := consultest.NewServer(consultest.Config{})
			return fmt.Sprintf("consul: {servers: [%q], name: api-svc, wait: 5s, rate_interval: 10ms}", srv.Addr()), func(addrs ...string) {
				var es []consultest.Entry
				for _, x := range addrs {
					es = append(es, consultest.Instance(x))
				}
				srv.Set("api-svc", es...)
			}, srv.Close
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src, set, stop := tc.source()
			defer stop()
			set(a, c)
			cfg, err := config.Parse("bench.yaml", fmt.Appendf(nil, `
listeners: [{name: public, listen: "127.0.0.1:0"}]
discovery: {drop_guard: {share: 0%%}}
services: [{name: api, health: {active: {type: none}}, discovery: [{%s}]}]
routes: [{name: all, service: api}]
`, src))
			if err != nil {
				b.Fatal(err)
			}
			g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Start(); err != nil {
				b.Fatal(err)
			}
			defer g.Shutdown(b.Context())
			count := func() int {
				n := 0
				for _, t := range g.Stats("api").Tiers {
					n += t.Total
				}
				return n
			}
			wait := func(n int) time.Duration {
				start := time.Now()
				for count() != n {
					if time.Since(start) > 30*time.Second {
						b.Fatalf("api did not reach %d instances in 30s", n)
					}
					time.Sleep(time.Millisecond)
				}
				return time.Since(start)
			}
			wait(2)
			var lat []time.Duration
			for b.Loop() {
				set(a)
				lat = append(lat, wait(1))
				set(a, c)
				wait(2)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
}
