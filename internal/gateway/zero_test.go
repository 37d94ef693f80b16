package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A few keys' zero checked on a running gateway, not only on the mapped
// library config (TestOptionsMeanWhatTheirDocsSay).

// outlier.consecutive_5xx: 0 never ejects on 5xx. The instance answers 500
// twenty times, then breaks its connections until the gateway-failure
// detector ejects it: that ejection's reason shows that the 5xx detector,
// which the tracker would have run first, did not eject it. With 3 (the
// control), the 500s eject it.
func TestConsecutive5xxZeroNeverEjects(t *testing.T) {
	for _, tc := range []struct {
		consecutive5xx int
		want           string // the ejection's reason
	}{
		{3, "consecutive 5xx"},
		{0, "3 consecutive gateway failures"},
	} {
		t.Run(fmt.Sprint(tc.consecutive5xx), func(t *testing.T) {
			var broken atomic.Bool
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if broken.Load() {
					c, _, _ := w.(http.Hijacker).Hijack()
					c.Close() // no response: a gateway failure
					return
				}
				w.WriteHeader(http.StatusInternalServerError)
			}))
			defer up.Close()
			g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health:
      active: {type: none}
      outlier: {consecutive_5xx: %d, consecutive_gateway_failures: 3}
    breaker: {disabled: true}
routes: [{name: all, service: api, retry: {attempts: 0}}]
`, up.Listener.Addr(), tc.consecutive5xx)), "")
			defer g.Shutdown(context.Background())
			url := "http://" + g.Addrs()[0] + "/"
			for range 20 {
				if code, _, _ := get(t, url); code != 500 {
					t.Fatalf("GET = %d, want the instance's 500", code)
				}
			}
			if tc.consecutive5xx == 0 {
				broken.Store(true)
			}
			var reason string
			eventually(t, "the instance ejected", 5*time.Millisecond, func() bool {
				if broken.Load() {
					get(t, url)
				}
				in := g.Services()[0].Instances[0]
				reason = in.Reason
				return in.Status == "ejected"
			})
			if !strings.Contains(reason, tc.want) {
				t.Errorf("ejected for %q, want %q", reason, tc.want)
			}
		})
	}
}

// upstream.max_idle_conns_per_instance: 0 keeps no connection: each request
// opens its own. The default keeps one for the next request.
func TestMaxIdleConnsZeroKeepsNone(t *testing.T) {
	for _, tc := range []struct {
		upstream  string
		wantConns int64
	}{
		{"{max_idle_conns_per_instance: 0}", 5},
		{"{}", 1},
	} {
		var conns atomic.Int64
		up := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		up.Start()
		g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health: {active: {type: none}}
    upstream: %s
routes: [{name: all, service: api}]
`, up.Listener.Addr(), tc.upstream)), "")
		for range 5 {
			if code, _, _ := get(t, "http://"+g.Addrs()[0]+"/"); code != 200 {
				t.Fatalf("GET = %d", code)
			}
		}
		g.Shutdown(context.Background())
		up.Close()
		if got := conns.Load(); got != tc.wantConns {
			t.Errorf("upstream %s: 5 requests in a row opened %d connections, want %d", tc.upstream, got, tc.wantConns)
		}
	}
}
