package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// reloadConfig returns a configuration of routes routes over services
// services, each with one static instance at addr, whose services use
// balancer: changing it replaces every service on a reload.
func reloadConfig(routes, services int, addr, balancer string) string {
	var b strings.Builder
	b.WriteString("listeners: [{name: public, listen: \"127.0.0.1:0\"}]\nservices:\n")
	for i := range services {
		fmt.Fprintf(&b, "  - {name: s%d, balancer: %s, discovery: [{static: {instances: [{addr: %q}]}}]}\n", i, balancer, addr)
	}
	b.WriteString("routes:\n")
	for i := range routes {
		fmt.Fprintf(&b, "  - {name: r%d, service: s%d, match: {path_prefix: /r/%d}}\n", i, i%services, i)
	}
	return b.String()
}

// BenchmarkReload10kRoutes measures a reload of 10,000 routes over 100
// services that are all replaced (a new balancer), and how long Ready and a
// request through the gateway took at most while reloads ran: the
// request-max-ms and ready-max-ms metrics. docs/benchmarks.md has the
// figures.
func BenchmarkReload10kRoutes(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	addr := up.Listener.Addr().String()
	cfgs := [2]string{reloadConfig(10_000, 100, addr, "p2c_ewma"), reloadConfig(10_000, 100, addr, "round_robin")}
	g, err := gateway.New(gateway.Options{Config: parseB(b, cfgs[0]), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Start(); err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	parsed := [2]*config.Config{parseB(b, cfgs[0]), parseB(b, cfgs[1])}

	// Probes: Ready, and a request served in process, one after the other
	// until the reloads end; each records its longest call.
	var readyMax, reqMax atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n < 10_000_000; n++ {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			g.Ready()
			t1 := time.Now()
			g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/r/1234", nil))
			t2 := time.Now()
			setMax(&readyMax, t1.Sub(t0))
			setMax(&reqMax, t2.Sub(t1))
		}
	}()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := g.Reload(parsed[(i+1)%2]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(readyMax.Load())/1e6, "ready-max-ms")
	b.ReportMetric(float64(reqMax.Load())/1e6, "request-max-ms")
}

func setMax(m *atomic.Int64, d time.Duration) {
	for {
		old := m.Load()
		if int64(d) <= old || m.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func parseB(b *testing.B, text string) *config.Config {
	b.Helper()
	cfg, err := config.Parse("bench.yaml", []byte(text))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}
