package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/demo"
	"github.com/duohuo/duohuo/internal/drill"
	"github.com/duohuo/duohuo/internal/gateway"
)

// The silent-cloud drills (g, h of the drill table) run 16s at 100 rps,
// the fault from 4s to 12s, against a gateway with the product's defaults.
// They assert where traffic went and that requests succeeded, never how
// fast: `duohuo drill --scenario blackhole,brownout --strict` checks the
// speed targets at 200 rps. The assertions look at the second half of the
// fault phase (8s to 12s), 4s after the fault started where the targets
// allow 2s (blackhole) and 5s (brownout, whose target is checked there at
// its 10% share), so that a busy two-core machine under the race detector
// has room.
const (
	silentDuration = 16 * time.Second
	// silentSuccess is the success asserted in the second half of the
	// fault phase: at most 4 failed requests of 400, where the target
	// (99.9% from 2s in) allows none at this rate.
	silentSuccess = 0.99
	// controlShare is the share of requests the local cloud must take
	// before the fault for the run to say anything: the gateway prefers
	// its own cloud, so all of them less probe noise.
	controlShare = 0.5
)

func runSilent(t *testing.T, o drill.Options) drill.ScenarioReport {
	t.Helper()
	o.Rate, o.Duration, o.Warmup = drillRate, silentDuration, 500*time.Millisecond
	rep, err := drill.Run(t.Context(), o)
	if err != nil {
		t.Fatalf("drill %v: %v", o.Scenarios[0].Name, err)
	}
	var md strings.Builder
	rep.WriteMarkdown(&md)
	t.Logf("report:\n%s", md.String())
	sr := rep.Scenarios[0]
	if sr.Fault == nil || sr.Fault.Proxies == nil {
		t.Fatalf("scenario %s has no fault proxy figures: %+v", sr.Name, sr.Fault)
	}
	return sr
}

// tally sums the buckets scheduled in [from, to).
type tally struct {
	sent, ok                int
	faultyConns, faultyReqs int64
	allReqs                 int64
}

func tallyBuckets(px *drill.ProxyReport, from, to time.Duration) tally {
	var t tally
	for _, b := range px.Buckets {
		if b.At < from || b.At >= to {
			continue
		}
		t.sent += b.Sent
		t.ok += b.OK
		t.faultyConns += b.FaultyConns
		t.faultyReqs += b.FaultyRequests
		t.allReqs += b.AllRequests
	}
	return t
}

func (t tally) success() float64 {
	if t.sent == 0 {
		return 0
	}
	return float64(t.ok) / float64(t.sent)
}

// secondHalf returns the second half of the fault phase.
func secondHalf(f *drill.FaultReport) (from, to time.Duration) {
	return f.At + (f.Until-f.At)/2, f.Until
}

// (g) The local cloud goes silent behind its fault proxies: once the
// gateway has noticed, requests succeed on the other clouds and nothing
// more is sent into the silence.
func TestDrillBlackholeTrafficLeavesTheSilentCloud(t *testing.T) {
	sr := runSilent(t, drill.Options{Scenarios: []drill.Scenario{drill.Blackhole}})
	px := sr.Fault.Proxies
	if px.ShareBefore < controlShare {
		t.Fatalf("the local cloud took %.1f%% of the requests before the fault, want ≥ %.0f%%: the run says nothing", 100*px.ShareBefore, 100*controlShare)
	}
	from, to := secondHalf(sr.Fault)
	late := tallyBuckets(px, from, to)
	if s := late.success(); s < silentSuccess {
		t.Errorf("success from %v to %v = %.4f (%d of %d), want ≥ %.2f", from, to, s, late.ok, late.sent, silentSuccess)
	}
	if late.faultyReqs != 0 {
		t.Errorf("%d requests arrived at the silent cloud's proxies from %v to %v, want none (last attempt %v after the fault)", late.faultyReqs, from, to, px.LastAttempt)
	}
}

// (h) The local cloud's fault proxies add 500ms each way: the gateway moves
// its traffic to the other clouds.
func TestDrillBrownoutTrafficLeavesTheSlowCloud(t *testing.T) {
	sr := runSilent(t, drill.Options{Scenarios: []drill.Scenario{drill.Brownout}})
	px := sr.Fault.Proxies
	if px.ShareBefore < controlShare {
		t.Fatalf("the local cloud took %.1f%% of the requests before the fault, want ≥ %.0f%%: the run says nothing", 100*px.ShareBefore, 100*controlShare)
	}
	from, to := secondHalf(sr.Fault)
	late := tallyBuckets(px, from, to)
	if late.allReqs == 0 {
		t.Fatalf("no request arrived at any proxy from %v to %v", from, to)
	}
	if s := float64(late.faultyReqs) / float64(late.allReqs); s >= drill.LeftShare {
		t.Errorf("the slow cloud took %.1f%% of the requests from %v to %v (%d of %d), want < %.0f%% (%.1f%% before the fault)",
			100*s, from, to, late.faultyReqs, late.allReqs, 100*drill.LeftShare, 100*px.ShareBefore)
	}
	if s := late.success(); s < silentSuccess {
		t.Errorf("success from %v to %v = %.4f (%d of %d), want ≥ %.2f", from, to, s, late.ok, late.sent, silentSuccess)
	}
}

// faultWatch records what arrived at the fronts of the chaos proxies when
// the drill first set its toxic, half a fault later, and when it first
// removed it, by watching the admin requests go by.
type faultWatch struct {
	fronts []*demo.FaultProxy
	half   time.Duration

	mu           sync.Mutex // guards the fields below
	on, mid, off *demo.FaultCounts
	timer        *time.Timer
}

func (w *faultWatch) counts() *demo.FaultCounts {
	var c demo.FaultCounts
	for _, f := range w.fronts {
		c = c.Add(f.Counts())
	}
	return &c
}

func (w *faultWatch) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/toxics/") {
			w.mu.Lock()
			switch {
			case r.Method == http.MethodPut && w.on == nil:
				w.on = w.counts()
				w.timer = time.AfterFunc(w.half, func() {
					w.mu.Lock()
					defer w.mu.Unlock()
					w.mid = w.counts()
				})
			case r.Method == http.MethodDelete && w.on != nil && w.off == nil:
				w.off = w.counts()
			}
			w.mu.Unlock()
		}
		h.ServeHTTP(rw, r)
	})
}

func (w *faultWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// gatewayFile is a user's first configuration: the nine instances and one
// route, with no health, upstream, timeout or retry settings at all.
func gatewayFile(t *testing.T, addrs []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`version: 1
site:
  cloud: ctyun
  region: cn-north-1
admin:
  listen: 127.0.0.1:0
listeners:
  - name: public
    listen: 127.0.0.1:0
services:
  - name: demo
    discovery:
      - static:
          instances:
`)
	i := 0
	for _, c := range demo.Clouds {
		for _, z := range c.Zones {
			fmt.Fprintf(&b, "            - {addr: %s, cloud: %s, region: %s, zone: %s}\n", addrs[i], c.Name, c.Region, z)
			i++
		}
	}
	b.WriteString(`routes:
  - name: demo
    service: demo
`)
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// (g) through --target: a user's own gateway, built from a file with no
// health or retry settings, whose local instances sit behind chaos proxies
// (the engine of `duohuo chaos proxy` with its admin API on loopback). The
// drill can only send load and switch the proxies; the proxies' fronts
// count the requests that reach the silent cloud.
func TestDrillTargetBlackholeThroughChaosProxies(t *testing.T) {
	var addrs, admins []string
	w := &faultWatch{half: silentDuration / 4}
	defer w.stop()
	var proxies []*demo.FaultProxy
	for _, c := range demo.Clouds {
		for zi := range c.Zones {
			b := demo.NewBackend(demo.Identity{Name: fmt.Sprintf("%s-%d", c.Name, zi+1), Cloud: c.Name, Region: c.Region, Zone: c.Zones[zi], Version: "v1"})
			if err := b.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			defer b.Stop()
			b.SetLatency(5 * time.Millisecond)
			if c.Name != "ctyun" {
				b.SetLatency(25 * time.Millisecond) // the simulated cross-cloud RTT
				addrs = append(addrs, b.Addr())
				continue
			}
			fp, err := demo.StartFaultProxy(b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer fp.Close()
			proxies = append(proxies, fp)
			admin := httptest.NewServer(w.wrap(fp.Proxy().AdminHandler()))
			defer admin.Close()
			admins = append(admins, admin.URL)
			addrs = append(addrs, fp.Addr())
		}
	}
	w.fronts = proxies

	cfg, err := config.Load(gatewayFile(t, addrs))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	}()
	waitFor(t, "the gateway to be ready", 10*time.Second, func() { time.Sleep(20 * time.Millisecond) }, func() bool { return g.Ready() == nil })

	sr := runSilent(t, drill.Options{Target: "http://" + g.Addrs()[0] + "/drill", FaultProxies: admins, Scenarios: []drill.Scenario{drill.Blackhole}})
	if len(sr.Errors) != 0 {
		t.Errorf("errors switching the chaos proxies: %v", sr.Errors)
	}
	for i, fp := range proxies {
		if tx := fp.Proxy().Toxics(); len(tx) != 0 {
			t.Errorf("chaos proxy %d still has toxics %v after the drill, want none", i, tx)
		}
	}
	from, to := secondHalf(sr.Fault)
	if s := tallyBuckets(sr.Fault.Proxies, from, to).success(); s < silentSuccess {
		t.Errorf("success from %v to %v = %.4f, want ≥ %.2f", from, to, s, silentSuccess)
	}
	w.mu.Lock()
	on, mid, off := w.on, w.mid, w.off
	w.mu.Unlock()
	if on == nil || mid == nil || off == nil {
		t.Fatalf("the drill's toxic: set %v, half-way count %v, removed %v; want all three", on != nil, mid != nil, off != nil)
	}
	if on.Requests == 0 {
		t.Fatalf("no request reached the local cloud before the fault: the run says nothing")
	}
	if n := off.Requests - mid.Requests; n != 0 {
		t.Errorf("%d requests reached the silent cloud in the second half of the fault, want none (%d in the first half)", n, mid.Requests-on.Requests)
	}
	t.Logf("at the chaos proxies: %d requests and %d connections in the first half of the fault, %d and %d in the second (the drill counted %d connections from 2s on)",
		mid.Requests-on.Requests, mid.Conns-on.Conns, off.Requests-mid.Requests, off.Conns-mid.Conns, sr.Fault.Proxies.LateConns)
}
