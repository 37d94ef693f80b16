package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/grpctest"
)

// rateLimitConfig is one service and route "all" in front of addr, with the
// rate_limits section given.
func rateLimitConfig(addr, rules string) string {
	return fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0", trusted_proxies: [127.0.0.2/32]}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}], health: {active: {type: none}}}]
routes: [{name: all, service: api}]
rate_limits:
%s`, addr, rules)
}

// startRegistered is start with a registry of its own, for the metrics.
func startRegistered(t *testing.T, text string) (*gateway.Gateway, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: parse(t, text), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		g.Shutdown(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown(context.Background()) })
	return g, reg
}

// decisions returns duohuo_ratelimit_decisions_total{rule, result}.
func decisions(t *testing.T, reg *prometheus.Registry, rule, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "duohuo_ratelimit_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["rule"] == rule && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type answer struct {
	status     int
	retryAfter string
	reason     string
}

func limitGet(t *testing.T, c *http.Client, url string, header map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Duohuo-Error")}
}

// A rule of 10/s with a burst of 10, offered 30 requests at once: 10 pass,
// 20 get 429 with a Retry-After. The bucket gains one permit per 100ms, so
// a slow machine that takes longer to send the 30 admits one more per
// 100ms it took: the bound is computed from the time measured.
func TestRateLimitBurst(t *testing.T) {
	g, reg := startRegistered(t, rateLimitConfig(upstream(t, "a"), "  - {name: ten, rate: 10/s, burst: 10}\n"))
	url := "http://" + g.Addrs()[0] + "/"
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 30}}
	defer c.CloseIdleConnections()
	var mu sync.Mutex
	counts := map[int]int{}
	var bad []answer
	var wg sync.WaitGroup
	begin := time.Now()
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := limitGet(t, c, url, nil)
			mu.Lock()
			defer mu.Unlock()
			counts[a.status]++
			if a.status == 429 && (a.retryAfter != "1" || a.reason != "rate_limited") {
				bad = append(bad, a)
			}
		}()
	}
	wg.Wait()
	extra := int(math.Floor(time.Since(begin).Seconds() * 10))
	if counts[200] < 10 || counts[200] > 10+extra || counts[200]+counts[429] != 30 {
		t.Errorf("30 requests on 10/s burst 10 in %v: %v; want 10 (up to %d) 200s, the rest 429", time.Since(begin), counts, 10+extra)
	}
	if len(bad) > 0 {
		t.Errorf("429 answers without Retry-After: 1 and X-Duohuo-Error: rate_limited: %+v", bad)
	}
	if got := decisions(t, reg, "ten", "rejected"); got != float64(counts[429]) {
		t.Errorf("duohuo_ratelimit_decisions_total{rule=ten,result=rejected} = %v, want %d", got, counts[429])
	}
	if got := decisions(t, reg, "ten", "allowed"); got != float64(counts[200]) {
		t.Errorf("duohuo_ratelimit_decisions_total{rule=ten,result=allowed} = %v, want %d", got, counts[200])
	}
}

// Per-header keys are independent; a client address is believed from a
// trusted proxy only (the listener trusts 127.0.0.2 here, and the test
// client comes from 127.0.0.1, so its X-Real-IP is replaced).
func TestRateLimitKeys(t *testing.T) {
	g, _ := startRegistered(t, rateLimitConfig(upstream(t, "a"), `  - {name: per-user, key: "header:X-User", rate: 1/h, burst: 2, routes: [all]}
  - {name: per-ip, key: client_ip, rate: 1/h, burst: 5, services: [api]}
`))
	url := "http://" + g.Addrs()[0] + "/"
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for _, step := range []struct {
		user, realIP string
		want         int
	}{
		{"alice", "10.0.0.1", 200},
		{"alice", "10.0.0.2", 200},
		{"alice", "10.0.0.3", 429}, // alice's two are used
		{"bob", "10.0.0.4", 200},
		{"bob", "10.0.0.5", 200},
		{"carol", "10.0.0.6", 200}, // the peer's fifth: alice's third, refused by the rule before, took none
		{"dave", "10.0.0.7", 429},  // one peer, 127.0.0.1, whatever X-Real-IP says: its five are used
	} {
		if a := limitGet(t, c, url, map[string]string{"X-User": step.user, "X-Real-IP": step.realIP}); a.status != step.want {
			t.Errorf("user %s (X-Real-IP %s, untrusted): %d, want %d", step.user, step.realIP, a.status, step.want)
		}
	}
	// From 127.0.0.2, a trusted proxy, X-Real-IP is the client: each
	// address has a limit of its own.
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	proxied := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer proxied.CloseIdleConnections()
	for i := range 12 {
		ip := fmt.Sprintf("10.1.0.%d", i/6) // six each: the sixth is over
		want := 200
		if i%6 == 5 {
			want = 429
		}
		if a := limitGet(t, proxied, url, map[string]string{"X-User": fmt.Sprint("u", i), "X-Real-IP": ip}); a.status != want {
			t.Errorf("request %d for %s through the trusted proxy: %d, want %d", i%6+1, ip, a.status, want)
		}
	}
	var st struct {
		RateLimits []gateway.RateLimitStatus `json:"rate_limits"`
	}
	rec := httptest.NewRecorder()
	g.RateLimitsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/ratelimits", nil))
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 {
		t.Fatalf("GET /v1/ratelimits: %d %s %v", rec.Code, rec.Body, err)
	}
	if len(st.RateLimits) != 2 || *st.RateLimits[0].Keys != 16 || *st.RateLimits[1].Keys != 3 || st.RateLimits[0].Routes[0] != "all" {
		t.Errorf("GET /v1/ratelimits = %s; want per-user with 16 keys and per-ip with 3, on route all", rec.Body)
	}
}

// slowUpstream answers once release is closed; arrived gets a value as each
// request comes in.
func slowUpstream(t *testing.T) (addr string, arrived chan struct{}, release chan struct{}) {
	arrived, release = make(chan struct{}, 100), make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "slow")
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String(), arrived, release
}

// A concurrency limit of 2 in front of a slow upstream: a third request
// while two are in flight is refused; once they end, requests pass again.
func TestRateLimitConcurrency(t *testing.T) {
	addr, arrived, release := slowUpstream(t)
	g, reg := startRegistered(t, rateLimitConfig(addr, "  - {name: two, concurrency: 2}\n"))
	url := "http://" + g.Addrs()[0] + "/"
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	results := make(chan int, 2)
	for range 2 {
		go func() { results <- limitGet(t, c, url, nil).status }()
	}
	<-arrived
	<-arrived
	if a := limitGet(t, c, url, nil); a.status != 429 || a.retryAfter != "1" {
		t.Errorf("third request with two in flight: %d, Retry-After %q; want 429, 1", a.status, a.retryAfter)
	}
	close(release)
	for range 2 {
		if s := <-results; s != 200 {
			t.Errorf("request in flight ended %d, want 200", s)
		}
	}
	if a := limitGet(t, c, url, nil); a.status != 200 {
		t.Errorf("request after both ended: %d, want 200", a.status)
	}
	if got := decisions(t, reg, "two", "rejected"); got != 1 {
		t.Errorf("rejected = %v, want 1", got)
	}
	if st := g.RateLimits()[0]; st.InFlight == nil || *st.InFlight != 0 {
		t.Errorf("in flight at the end = %v, want 0", st.InFlight)
	}
}

// Action queue: a request over the limit waits for a slot and is admitted
// when the one in flight ends.
func TestRateLimitQueue(t *testing.T) {
	addr, arrived, release := slowUpstream(t)
	g, reg := startRegistered(t, rateLimitConfig(addr, "  - {name: one, concurrency: 1, action: queue, max_wait: 20s}\n"))
	url := "http://" + g.Addrs()[0] + "/"
	c := &http.Client{Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	first := make(chan int, 1)
	go func() { first <- limitGet(t, c, url, nil).status }()
	<-arrived
	second := make(chan int, 1)
	go func() { second <- limitGet(t, c, url, nil).status }()
	// The second is held by the gateway, not at the upstream (a bounded
	// poll of the rule's state: the admin API shows the waiting request).
	for deadline := time.Now().Add(20 * time.Second); *g.RateLimits()[0].Waiting == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the second request is not waiting after 20s")
		}
		select {
		case <-arrived:
			t.Fatal("the second request reached the upstream while the first was in flight")
		case <-time.After(5 * time.Millisecond):
		}
	}
	close(release)
	if s := <-first; s != 200 {
		t.Errorf("first: %d, want 200", s)
	}
	if s := <-second; s != 200 {
		t.Errorf("queued request: %d, want 200 once the first ended", s)
	}
	if got := decisions(t, reg, "one", "queued"); got != 1 {
		t.Errorf("queued = %v, want 1", got)
	}
}

// A queue on a bucket: the request that finds it empty waits for the next
// permit, up to max_wait, and a request that would wait longer gets 429.
func TestRateLimitQueueOnBucket(t *testing.T) {
	g, reg := startRegistered(t, rateLimitConfig(upstream(t, "a"), "  - {name: paced, rate: 5/s, burst: 1, action: queue, max_wait: 250ms}\n"))
	url := "http://" + g.Addrs()[0] + "/"
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	counts := map[int]int{}
	for range 6 {
		counts[limitGet(t, c, url, nil).status]++
	}
	allowed, queued, timedOut := decisions(t, reg, "paced", "allowed"), decisions(t, reg, "paced", "queued"), decisions(t, reg, "paced", "timeout")
	if allowed+queued != float64(counts[200]) || timedOut != float64(counts[429]) || queued == 0 {
		t.Errorf("6 requests one after another on 5/s burst 1, queue 250ms: %v; decisions allowed %v queued %v timeout %v; want every 200 allowed or queued, some queued", counts, allowed, queued, timedOut)
	}
}

// A gRPC call over the limit ends with RESOURCE_EXHAUSTED.
func TestRateLimitGRPC(t *testing.T) {
	addr := startGRPC(t, &grpctest.Service{Name: "v1"}, healthpb.HealthCheckResponse_SERVING)
	g, _ := startRegistered(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: grpc, discovery: [{static: {instances: [{addr: "%s"}]}}], upstream: {protocol: h2c}, health: {active: {type: none}}}]
routes: [{name: all, service: grpc}]
rate_limits: [{name: calls, rate: 1/h, burst: 2}]
`, addr))
	c := grpcClient(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 3 {
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		want := codes.OK
		if i == 2 {
			want = codes.ResourceExhausted
		}
		if got := status.Code(err); got != want {
			t.Errorf("call %d: %v, want %v", i+1, err, want)
		}
	}
}

// A reload that keeps a rule keeps its state; a reload that changes it
// starts it fresh.
func TestRateLimitReloadKeepsState(t *testing.T) {
	addr := upstream(t, "a")
	text := rateLimitConfig(addr, "  - {name: r, rate: 1/h, burst: 2}\n")
	g, _ := startRegistered(t, text)
	url := "http://" + g.Addrs()[0] + "/"
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for i := range 2 {
		if a := limitGet(t, c, url, nil); a.status != 200 {
			t.Fatalf("request %d: %d, want 200", i+1, a.status)
		}
	}
	if err := g.Reload(parse(t, text)); err != nil {
		t.Fatal(err)
	}
	if a := limitGet(t, c, url, nil); a.status != 429 {
		t.Errorf("after a reload with the same rule: %d, want 429 (the bucket is still empty)", a.status)
	}
	if err := g.Reload(parse(t, rateLimitConfig(addr, "  - {name: r, rate: 1/h, burst: 3}\n"))); err != nil {
		t.Fatal(err)
	}
	if a := limitGet(t, c, url, nil); a.status != 200 {
		t.Errorf("after a reload that changed the rule: %d, want 200 (a new, full bucket)", a.status)
	}
	tok := *g.RateLimits()[0].Tokens
	if tok < 1.99 || tok > 2.01 {
		t.Errorf("tokens after one request on the new bucket of 3 = %v, want 2", tok)
	}
	if err := g.Reload(parse(t, rateLimitConfig(addr, "  []\n"))); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if a := limitGet(t, c, url, nil); a.status != 200 {
			t.Fatalf("request %d with the rule removed: %d, want 200", i+1, a.status)
		}
	}
}
