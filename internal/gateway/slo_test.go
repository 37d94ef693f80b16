package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/duohuo/duohuo/internal/gateway"
)

// sloConfig: service api has a fast instance in cloud c1 and one that
// takes 250 ms in c2, picked in turn; service broken answers 500. The
// latency threshold is 100 ms: far from both, so that a slow machine
// (or an emulator) does not move c1 over it.
const sloConfig = `
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    balancer: round_robin
    health: {active: {type: none}}
    discovery: [{static: {instances: [{addr: "%s", cloud: c1}, {addr: "%s", cloud: c2}]}}]
  - name: broken
    health: {active: {type: none}, outlier: {consecutive_5xx: 0}}
    breaker: {disabled: true}
    discovery: [{static: {instances: [{addr: "%s", cloud: c1}]}}]
routes:
  - {name: api, service: api, match: {path_prefix: /api}}
  - {name: broken, service: broken, match: {path_prefix: /broken}}
slo:
  objective: 99.9%%
  latency_threshold: 100ms
  score: {min_requests: 5}
`

func timedUpstream(t *testing.T, d time.Duration, status int) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d) // the instance's own latency, not a synchronisation
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func getHealth(t *testing.T, admin string) (int, gateway.HealthStatus) {
	t.Helper()
	resp, err := http.Get(admin + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h gateway.HealthStatus
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatalf("/v1/health: %v in %s", err, b)
		}
	}
	return resp.StatusCode, h
}

func TestHealthScoresServicesAndClouds(t *testing.T) {
	fast, slow := timedUpstream(t, 0, 200), timedUpstream(t, 250*time.Millisecond, 200)
	bad := timedUpstream(t, 0, 500)
	reg := prometheus.NewRegistry()
	cfg := parse(t, fmt.Sprintf(sloConfig, fast, slow, bad))
	g, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(g)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(g.AdminHandler())
	defer admin.Close()
	waitKnown(t, g, "api", 2)
	waitKnown(t, g, "broken", 1)

	base := "http://" + g.Addrs()[0]
	for i := range 40 {
		for _, path := range []string{"/api", "/broken"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatalf("request %d to %s: %v", i, path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}

	code, h := getHealth(t, admin.URL)
	if code != 200 {
		t.Fatalf("/v1/health answered %d", code)
	}
	if len(h.Services) != 2 || h.Services[0].Service != "api" || h.Services[1].Service != "broken" {
		t.Fatalf("services %+v, want api and broken", h.Services)
	}
	api, broken := h.Services[0], h.Services[1]

	// api: no errors; c2 is slow: every request over the threshold, a
	// P99 far above c1's.
	if got := api.SLIs[0]; got.SLI != "availability" || got.PeriodEvents.Total != 40 || got.BudgetRemaining != 1 || len(got.Firing) != 0 {
		t.Errorf("api availability %+v, want 40 good requests, the whole budget, no alert", got)
	}
	if len(api.Clouds) != 2 {
		t.Fatalf("api clouds %+v, want c1 and c2", api.Clouds)
	}
	c1, c2 := api.Clouds[0], api.Clouds[1]
	if c1.Cloud != "c1" || c2.Cloud != "c2" || c1.Requests+c2.Requests != 40 || c1.Requests < 10 || c2.Requests < 10 {
		t.Fatalf("clouds %s (%d requests), %s (%d), want c1 and c2 sharing 40", c1.Cloud, c1.Requests, c2.Cloud, c2.Requests)
	}
	// (c1 answers at once; only a stall of 250ms on a loaded machine
	// could make it the slower cloud.)
	if d := c2.Inputs["p99_drift"]; !(d > 0) || c1.Inputs["p99_drift"] != 0 {
		t.Errorf("drifts c1 %v, c2 %v: want 0 for the fastest cloud and above 0 for the slow one", c1.Inputs["p99_drift"], d)
	}
	if lat := c2.SLIs[1]; lat.SLI != "latency" || math.Abs(lat.BurnRates["5m"]-100) > 1e-6 || lat.PeriodEvents.Good != 0 {
		t.Errorf("c2 latency %+v, want a burn of 100 (every request slow against a 99%% objective)", lat)
	}
	if !(c2.Score < c1.Score) || c2.Parts["latency_burn"] != 0 {
		t.Errorf("scores c1 %v, c2 %v (parts %v): want c2 below c1, its latency part at 0", c1.Score, c2.Score, c2.Parts)
	}
	// broken: every request a 500: a burn of 1000, pages and a ticket.
	av := broken.SLIs[0]
	if av.BurnRates["5m"] < 999 || av.BudgetRemaining > -998 {
		t.Errorf("broken availability %+v, want a burn of 1000", av)
	}
	var sev []string
	for _, a := range av.Firing {
		sev = append(sev, a.Severity+"/"+a.Long)
	}
	if got := strings.Join(sev, ","); got != "page/1h,page/6h,ticket/3d" {
		t.Errorf("broken firing %s, want page/1h,page/6h,ticket/3d", got)
	}
	if broken.Parts["availability_burn"] != 0 {
		t.Errorf("broken parts %v: want the availability part at 0", broken.Parts)
	}

	// The same, as metrics.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`duohuo_slo_alert_firing{service="broken",severity="page",sli="availability"}`: 1,
		`duohuo_slo_alert_firing{service="api",severity="page",sli="availability"}`:    0,
		`duohuo_slo_error_budget_remaining_ratio{service="api",sli="availability"}`:    1,
		`duohuo_slo_health_score{cloud="c1",service="api"}`:                            c1.Score,
		`duohuo_slo_health_score{cloud="c2",service="api"}`:                            c2.Score,
		`duohuo_slo_objective_ratio{service="api",sli="latency"}`:                      0.99,
		`duohuo_slo_service_health_score{service="broken"}`:                            broken.Score,
		`duohuo_slo_p99_drift_ratio{cloud="c1",service="api"}`:                         0,
	}
	got := flatten(mfs)
	b, least := got[`duohuo_slo_burn_rate{service="api",sli="latency",window="5m"}`], float64(c2.Requests)/40/0.01
	if b < least-1e-6 {
		t.Errorf("api latency burn over 5m = %v, want at least %v (c2's requests slow)", b, least)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func TestHealthWithoutTheSLOSection(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, health: {active: {type: none}}, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: api, service: api}]
`, upstream(t, "a")))
	g, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(g)
	admin := httptest.NewServer(g.AdminHandler())
	defer admin.Close()
	if code, _ := getHealth(t, admin.URL); code != 404 {
		t.Errorf("/v1/health without an slo section answered %d, want 404", code)
	}
	mfs, _ := reg.Gather()
	for k := range flatten(mfs) {
		if strings.HasPrefix(k, "duohuo_slo_") {
			t.Errorf("series %s without an slo section", k)
		}
	}
}

// flatten returns every gauge and counter of mfs by name{labels}.
func flatten(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			k := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Gauge != nil:
				out[k] = m.Gauge.GetValue()
			case m.Counter != nil:
				out[k] = m.Counter.GetValue()
			}
		}
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func shutdown(g *gateway.Gateway) { g.Shutdown(context.Background()) }

// waitKnown waits (5s at most) until service has n healthy instances:
// discovery reports asynchronously, and nothing signals its first report.
func waitKnown(t *testing.T, g *gateway.Gateway, service string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		healthy := 0
		for _, tier := range g.Stats(service).Tiers {
			healthy += tier.Healthy
		}
		if healthy >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s has %d healthy instances after 5s, want %d", service, healthy, n)
		}
		time.Sleep(time.Millisecond)
	}
}
