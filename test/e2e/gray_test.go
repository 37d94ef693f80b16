package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// Full-link gray release through the real gateway: service A (shop) calls
// service B (orders) through the gateway with the color SDK; both have v1
// and v2. 127.0.0.1 is the internal network the gateway trusts; an outside
// client connects from 127.0.0.2.
func TestGrayFullLinkThroughGateway(t *testing.T) {
	prop, err := color.New(color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	var gw atomic.Value // the gateway's address, known after it starts
	clientTr := &http.Transport{}
	defer clientTr.CloseIdleConnections()
	client := &http.Client{Transport: prop.Transport(clientTr), Timeout: 10 * time.Second}

	orders := map[string]*httptest.Server{}
	for _, v := range []string{"v1", "v2"} {
		orders[v] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "orders-"+v)
		}))
		defer orders[v].Close()
	}
	shop := map[string]*httptest.Server{}
	for _, v := range []string{"v1", "v2"} {
		shop[v] = httptest.NewServer(prop.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://"+gw.Load().(string)+"/orders", nil)
			req.Host = "orders.test"
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			fmt.Fprintf(w, "shop-%s>%s", v, b)
		})))
		defer shop[v].Close()
	}
	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }
	cfg, err := config.Parse("gray.yaml", []byte(fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
gray:
  trusted_networks: [127.0.0.1/32]
services:
  - name: shop
    discovery: [{static: {instances: [{addr: "%s", labels: {version: v1}}, {addr: "%s", labels: {version: v2}}]}}]
  - name: orders
    discovery: [{static: {instances: [{addr: "%s", labels: {version: v1}}, {addr: "%s", labels: {version: v2}}]}}]
routes:
  - name: shop
    match: {host: shop.test}
    service: shop
    gray:
      subsets: [{name: v2, labels: {version: v2}}]
      rules: [{name: five-percent, subset: v2, user_hash: {header: x-user-id, percent: 5}}]
  - name: orders
    match: {host: orders.test}
    service: orders
    gray:
      subsets: [{name: v2, labels: {version: v2}}]
`, addr(shop["v1"]), addr(shop["v2"]), addr(orders["v1"]), addr(orders["v2"]))))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	gw.Store(g.Addrs()[0])
	admin := httptest.NewServer(g.GrayHandler())
	defer admin.Close()

	// An outside client, from 127.0.0.2.
	outTr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}
	defer outTr.CloseIdleConnections()
	outside := &http.Client{Transport: outTr, Timeout: 10 * time.Second}
	call := func(user, spoof string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+gw.Load().(string)+"/", nil)
		req.Host = "shop.test"
		req.Header.Set("X-User-Id", user)
		if spoof != "" {
			req.Header.Set("X-Gray-Id", spoof)
			req.Header.Set("Baggage", "gray.lane="+spoof)
		}
		resp, err := outside.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET shop as %s = %d %s", user, resp.StatusCode, b)
		}
		return string(b), resp.Header.Get(color.ServedHeader)
	}
	// Users in and out of the 5% (the policy has no salt).
	var in, out []string
	for i := 0; len(in) < 20 || len(out) < 40; i++ {
		id := fmt.Sprintf("user-%d", i)
		if gray.Bucket("", id) < 500 {
			in = append(in, id)
		} else {
			out = append(out, id)
		}
	}
	for _, u := range in {
		if got, lane := call(u, ""); got != "shop-v2>orders-v2" || lane != "v2" {
			t.Fatalf("user %s in the 5%%: %q (lane %q), want shop-v2>orders-v2 in lane v2", u, got, lane)
		}
	}
	for _, u := range out[:20] {
		if got, _ := call(u, ""); got != "shop-v1>orders-v1" {
			t.Fatalf("user %s outside the 5%%: %q, want shop-v1>orders-v1", u, got)
		}
	}
	// Every request is counted in its lane, on both hops (the series are
	// counted as the handler returns, just after the client has its answer).
	for _, c := range []struct {
		route, subset string
		want          float64
	}{{"shop", "v2", float64(len(in))}, {"orders", "v2", float64(len(in))}, {"shop", "baseline", 20}, {"orders", "baseline", 20}} {
		var got float64
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if got = grayRequests(t, reg, c.route, c.subset); got == c.want || time.Now().After(deadline) {
				break
			}
		}
		if got != c.want {
			t.Errorf("duohuo_gray_requests_total{route=%q,subset=%q,code=\"2xx\"} = %v, want %v", c.route, c.subset, got, c.want)
		}
	}

	// A spoofed color from outside is stripped: the user stays in v1 on
	// both hops.
	for _, u := range out[:5] {
		if got, _ := call(u, "v2"); got != "shop-v1>orders-v1" {
			t.Fatalf("spoofed v2 from outside for %s: %q, want shop-v1>orders-v1", u, got)
		}
	}

	// Rollback: a change sends nobody to v2, a rollback restores the 5%
	// for the very next request.
	put := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, b)
		}
	}
	// Meanwhile a load of other users runs: no request may fail.
	stop := make(chan struct{})
	var loadOK, loadFailed atomic.Int64
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", "http://"+gw.Load().(string)+"/", nil)
			req.Host = "shop.test"
			req.Header.Set("X-User-Id", out[20+i%len(out[20:])])
			resp, err := outside.Do(req)
			if err != nil {
				loadFailed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				loadFailed.Add(1)
			} else {
				loadOK.Add(1)
			}
		}
	}()
	for round := 0; round < 5; round++ {
		put("PUT", "/v1/gray/routes/shop", `{"subsets":[{"name":"v2","labels":{"version":"v2"}}]}`)
		if got, _ := call(in[0], ""); got != "shop-v1>orders-v1" {
			t.Fatalf("round %d: the request right after the change: %q, want shop-v1>orders-v1", round, got)
		}
		put("POST", "/v1/gray/routes/shop/rollback", ``)
		if got, _ := call(in[0], ""); got != "shop-v2>orders-v2" {
			t.Fatalf("round %d: the request right after the rollback: %q, want shop-v2>orders-v2", round, got)
		}
	}
	close(stop)
	<-loadDone
	if n := loadFailed.Load(); n != 0 || loadOK.Load() == 0 {
		t.Errorf("load during 10 policy changes: %d ok, %d failed; want none failed", loadOK.Load(), n)
	}

	// v2 of orders goes away: the lane falls back to orders' baseline.
	orders["v2"].Close()
	for _, u := range in[:5] {
		if got, _ := call(u, ""); got != "shop-v2>orders-v1" {
			t.Fatalf("user %s with orders-v2 down: %q, want shop-v2>orders-v1", u, got)
		}
	}
}

// grayRequests returns duohuo_gray_requests_total{route, subset, code="2xx"}
// from reg, 0 if absent.
func grayRequests(t *testing.T, reg *prometheus.Registry, route, subset string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "duohuo_gray_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["route"] == route && l["subset"] == subset && l["code"] == "2xx" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
