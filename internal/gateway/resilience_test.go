package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/gateway"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), resp.Header
}

// When every try fails, a cacheable GET is answered with the last good
// response (marked stale), and anything else with the static reply.
func TestFallbackStaleThenStatic(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "fresh "+r.URL.Path)
	}))
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health: {outlier: {max_ejection_percent: 0}}
routes:
  - name: all
    service: api
    retry: {attempts: 0}
    fallback:
      stale: {ttl: 1m}
      static: {status: 503, body: "try later", content_type: text/plain}
`, up.Listener.Addr().String())
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	if code, body, _ := get(t, base+"/a"); code != 200 || body != "fresh /a" {
		t.Fatalf("GET /a = %d %q, want 200 fresh /a", code, body)
	}
	up.Close() // the only instance dies

	code, body, h := get(t, base+"/a")
	if code != 200 || body != "fresh /a" || h.Get("X-Duohuo-Fallback") != "stale" || h.Get("Age") == "" {
		t.Errorf("GET /a after the instance died = %d %q fallback=%q age=%q, want the stale 200 with Age",
			code, body, h.Get("X-Duohuo-Fallback"), h.Get("Age"))
	}
	code, body, h = get(t, base+"/never-seen")
	if code != 503 || body != "try later" || h.Get("X-Duohuo-Fallback") != "static" {
		t.Errorf("GET /never-seen = %d %q fallback=%q, want the static 503", code, body, h.Get("X-Duohuo-Fallback"))
	}
}

// An instance that keeps failing has its circuit opened: it gets no attempts
// while the circuit is open, even with outlier detection off.
func TestInstanceBreakerStopsAttempts(t *testing.T) {
	var badHits atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		badHits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer bad.Close()
	good := upstream(t, "good")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    balancer: round_robin
    discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]
    health: {outlier: {max_ejection_percent: 0}}
    breaker: {consecutive_failures: 3, open_timeout: 1m}
routes:
  - {name: all, service: api, retry: {attempts: 0}}
`, bad.Listener.Addr().String(), good)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	for i := 0; i < 20; i++ {
		get(t, base+"/")
	}
	if n := badHits.Load(); n != 3 {
		t.Errorf("the failing instance got %d attempts, want 3 (then its circuit opened)", n)
	}
	for i := 0; i < 10; i++ {
		if code, body, _ := get(t, base+"/"); code != 200 || body != "good" {
			t.Fatalf("request with the bad circuit open: %d %q, want 200 good", code, body)
		}
	}
}

// A route whose circuit is open answers from its fallback without trying.
func TestRouteBreakerGoesToFallback(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer up.Close()
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health: {outlier: {max_ejection_percent: 0}}
    breaker: {disabled: true}
routes:
  - name: all
    service: api
    retry: {attempts: 0}
    breaker: {consecutive_failures: 2, open_timeout: 1m}
    fallback: {static: {status: 200, body: degraded}}
`, up.Listener.Addr().String())
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	for i := 0; i < 10; i++ {
		if code, body, _ := get(t, base+"/"); code != 200 || body != "degraded" {
			t.Fatalf("request %d = %d %q, want the static fallback", i, code, body)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("instance attempts = %d, want 2 (then the route circuit opened)", n)
	}
}

// Faults from the config file apply, and the admin API changes them at run
// time.
func TestFaultsFromConfigAndAdmin(t *testing.T) {
	a := upstream(t, "a")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
faults:
  rules:
    - {name: broken, path_prefix: /broken, spec: "abort=418@100%%"}
`, a)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	if code, _, _ := get(t, base+"/broken/x"); code != 418 {
		t.Errorf("GET /broken/x = %d, want the injected 418", code)
	}
	if code, body, _ := get(t, base+"/ok"); code != 200 || body != "a" {
		t.Errorf("GET /ok = %d %q, want 200 a", code, body)
	}
	admin := httptest.NewServer(g.FaultsHandler())
	defer admin.Close()
	req, _ := http.NewRequest(http.MethodPut, admin.URL+"/v1/faults", strings.NewReader(`{"rules":[]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT /v1/faults = %d", resp.StatusCode)
	}
	if code, _, _ := get(t, base+"/broken/x"); code != 200 {
		t.Errorf("GET /broken/x after clearing the faults = %d, want 200", code)
	}
}

// A GET whose first try is slow is hedged to another instance after the
// hedge delay, and the first answer wins.
func TestHedgedRequestsCutTheTail(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done(): // cancelled when the hedge wins
		}
		io.WriteString(w, "slow")
	}))
	defer slow.Close()
	fast := upstream(t, "fast")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    balancer: round_robin
    discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]
    health: {outlier: {max_ejection_percent: 0}}
routes:
  - name: all
    service: api
    hedge: {delay: 50ms}
    retry: {budget: {ratio: 1, min_per_second: 100}}
`, slow.Listener.Addr().String(), fast)
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: parse(t, cfg), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	for i := 0; i < 10; i++ {
		start := time.Now()
		code, body, _ := get(t, "http://"+g.Addrs()[0]+"/")
		if code != 200 || body != "fast" {
			t.Fatalf("request %d = %d %q, want 200 fast", i, code, body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("request %d took %v: the hedge did not cut the slow try", i, d)
		}
	}
	mfs, _ := reg.Gather()
	hedges := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "duohuo_hedges_total" {
			hedges = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if hedges < 3 {
		t.Errorf("duohuo_hedges_total = %v, want the requests that went to the slow instance first (about 5)", hedges)
	}
}

// When a whole local cloud is dead but not yet out of rotation, a request
// that failed twice in it retries in the next locality instead of a third
// dead local instance.
func TestRetryLeavesAFailingTier(t *testing.T) {
	var dead []string
	for i := 0; i < 3; i++ {
		s := httptest.NewServer(http.NotFoundHandler())
		dead = append(dead, s.Listener.Addr().String())
		s.Close()
	}
	alive := upstream(t, "remote")
	cfg := fmt.Sprintf(`
site: {cloud: c1, region: r1}
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery:
      - static:
          instances:
            - {addr: "%s", cloud: c1, region: r1}
            - {addr: "%s", cloud: c1, region: r1}
            - {addr: "%s", cloud: c1, region: r1}
            - {addr: "%s", cloud: c2, region: r2}
    health: {outlier: {max_ejection_percent: 0}}
    breaker: {disabled: true}
routes:
  - {name: all, service: api, retry: {attempts: 2, budget: {ratio: 1, min_per_second: 1000}}}
`, dead[0], dead[1], dead[2], alive)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	for i := 0; i < 30; i++ {
		if code, body, _ := get(t, "http://"+g.Addrs()[0]+"/"); code != 200 || body != "remote" {
			t.Fatalf("request %d with the local cloud dead = %d %q, want 200 from the remote cloud", i, code, body)
		}
	}
}

// A fault rule set through the admin API survives reloads, also those that
// change the file's fault rules (which apply beside it); POST
// /v1/faults/revert drops the run-time rules.
func TestRuntimeFaultsSurviveReloads(t *testing.T) {
	a := upstream(t, "a")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api, timeout: %%s}]
faults:
  rules: [%%s]
`, a)
	g := start(t, parse(t, fmt.Sprintf(cfg, "15s", "")), "")
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	admin := httptest.NewServer(g.FaultsHandler())
	defer admin.Close()
	req, _ := http.NewRequest(http.MethodPut, admin.URL+"/v1/faults/drill", strings.NewReader(`{"path_prefix": "/drill", "spec": "abort=418@100%"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /v1/faults/drill = %d", resp.StatusCode)
	}
	if code, _, _ := get(t, base+"/drill"); code != 418 {
		t.Fatalf("GET /drill = %d, want the injected 418", code)
	}
	if err := g.Reload(parse(t, fmt.Sprintf(cfg, "10s", ""))); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, base+"/drill"); code != 418 {
		t.Errorf("GET /drill after a reload that changed a timeout = %d, want 418: the run-time rule was dropped", code)
	}
	if err := g.Reload(parse(t, fmt.Sprintf(cfg, "10s", `{name: file, path_prefix: /file, spec: "abort=429@100%"}`))); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, base+"/file"); code != 429 {
		t.Errorf("GET /file after the file added a rule = %d, want its 429", code)
	}
	if code, _, _ := get(t, base+"/drill"); code != 418 {
		t.Errorf("GET /drill after the file's rules changed = %d, want 418: a reload keeps the run-time rules", code)
	}
	resp, err = http.Post(admin.URL+"/v1/faults/revert", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _, _ := get(t, base+"/drill"); code != 200 {
		t.Errorf("GET /drill after a revert = %d, want 200", code)
	}
	if code, _, _ := get(t, base+"/file"); code != 429 {
		t.Errorf("GET /file after a revert = %d, want the file's 429", code)
	}
}
