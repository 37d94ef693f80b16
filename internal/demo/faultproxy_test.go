package demo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/config"
)

func startProxied(t *testing.T) (*Backend, *FaultProxy) {
	t.Helper()
	b := NewBackend(Identity{Name: "ctyun-1", Cloud: "ctyun"})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	p, err := StartFaultProxy(b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return b, p
}

// Requests through the proxy reach the backend and are counted, one
// connection for a keep-alive client.
func TestFaultProxyCountsWhatArrives(t *testing.T) {
	b, p := startProxied(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for range 3 {
		resp, err := c.Get("http://" + p.Addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Served-By") != "ctyun-1" {
			t.Fatalf("GET through the proxy = %d served by %q, want 200 from ctyun-1", resp.StatusCode, resp.Header.Get("X-Served-By"))
		}
	}
	got := p.Counts()
	if got.Conns != 1 || got.Requests != 3 || got.Bytes < 3*int64(len("GET /x HTTP/1.1\r\n")) {
		t.Errorf("Counts() = %+v, want 1 connection, 3 requests and their bytes", got)
	}
	if b.Served() != 3 {
		t.Errorf("backend served %d, want 3", b.Served())
	}
}

// A blackhole swallows the request, yet the front has counted it: the
// drill sees an attempt that the backend never does.
func TestFaultProxyCountsRequestsABlackholeSwallows(t *testing.T) {
	b, p := startProxied(t)
	if err := p.Proxy().Set("cut", tcpproxy.Both, tcpproxy.Blackhole{}); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr()+"/x", nil)
	if resp, err := tr.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		if resp != nil {
			resp.Body.Close()
		}
		t.Fatalf("GET into a blackhole = %v, want the caller's deadline", err)
	}
	if got := p.Counts(); got.Conns != 1 || got.Requests != 1 {
		t.Errorf("Counts() = %+v, want the connection and the request", got)
	}
	if b.Served() != 0 {
		t.Errorf("backend served %d through a blackhole, want 0", b.Served())
	}
}

func TestIsRequestStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"a GET request line", "GET /drill HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"an OPTIONS * request line", "OPTIONS * HTTP/1.1\r\n", true},
		{"an absolute-form request line", "GET http://x/ HTTP/1.1\r\n", true},
		{"the rest of a body", "e\":\"ctyun-1\"}\n", false},
		{"a lower-case token", "get / HTTP/1.1\r\n", false},
		{"a method without a path yet", "GET ", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isRequestStart([]byte(tc.in)); got != tc.want {
				t.Errorf("isRequestStart(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// With ProductDefaults the demo's gateway gets every health, upstream,
// route timeout, retry and hedge setting from the product's defaults: the
// same as a file that names only the instances and the route.
func TestProductDefaultsLeaveEveryTuningToTheProduct(t *testing.T) {
	addrs := DefaultAddrs(Options{})
	y, err := ConfigYAML(Options{ProductDefaults: true}, addrs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse("demo.yaml", y)
	if err != nil {
		t.Fatalf("config.Parse(ConfigYAML(ProductDefaults)): %v\n%s", err, y)
	}
	minimal := []byte(`version: 1
services:
  - name: demo
    discovery:
      - static:
          instances:
            - addr: 127.0.0.1:18001
routes:
  - name: demo
    service: demo
`)
	want, err := config.Parse("minimal.yaml", minimal)
	if err != nil {
		t.Fatal(err)
	}
	gs, ws := got.Services[0], want.Services[0]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"balancer", gs.Balancer, ws.Balancer},
		{"health", gs.Health, ws.Health},
		{"upstream", gs.Upstream, ws.Upstream},
		{"route timeout", got.Routes[0].Timeout, want.Routes[0].Timeout},
		{"retry", got.Routes[0].Retry, want.Routes[0].Retry},
		{"hedge", got.Routes[0].Hedge, want.Routes[0].Hedge},
	} {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s differs from the product's default (-default +demo):\n%s", c.what, diff)
		}
	}
	if len(gs.Discovery[0].Static.Instances) != 9 {
		t.Errorf("instances = %d, want 9", len(gs.Discovery[0].Static.Instances))
	}
}

// With FaultProxies the gateway's instances are the proxies, each in front
// of its backend, and traffic flows through them.
func TestFaultProxiesStandInFrontOfEveryInstance(t *testing.T) {
	top, err := Start(Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BasePort: -1, FaultProxies: true, ProductDefaults: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(context.Background())
	if len(top.Proxies) != len(top.Backends) {
		t.Fatalf("%d proxies for %d backends", len(top.Proxies), len(top.Backends))
	}
	var cfgAddrs, proxyAddrs []string
	for _, in := range top.Config.Services[0].Discovery[0].Static.Instances {
		cfgAddrs = append(cfgAddrs, in.Addr)
	}
	for i, p := range top.Proxies {
		proxyAddrs = append(proxyAddrs, p.Addr())
		if p.Proxy().Upstream() != top.Backends[i].Addr() {
			t.Errorf("proxy %d forwards to %s, want its backend %s", i, p.Proxy().Upstream(), top.Backends[i].Addr())
		}
	}
	if diff := cmp.Diff(proxyAddrs, cfgAddrs); diff != "" {
		t.Errorf("the gateway's instance addresses are not the proxies' (-proxies +config):\n%s", diff)
	}
	if got := top.ProxiesOf(top.Cloud("ctyun")); len(got) != 3 || got[0] != top.Proxies[0] {
		t.Errorf("ProxiesOf(ctyun) = %v, want the first three proxies", got)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(top.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var through FaultCounts
	for _, p := range top.Proxies {
		through = through.Add(p.Counts())
	}
	if resp.StatusCode != http.StatusOK || through.Requests != 1 {
		t.Errorf("GET via the gateway = %d with %d requests through the proxies, want 200 and 1", resp.StatusCode, through.Requests)
	}
}
