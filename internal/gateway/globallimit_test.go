package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/globallimit"
	"github.com/duohuo/duohuo/replica"
	"github.com/duohuo/duohuo/replica/replicatest"
)

type globalCounters struct{ s *globallimit.Shared }

func (g globalCounters) Counter(name string, flush time.Duration) gateway.GlobalCounter {
	return g.s.Counter(name, flush)
}

// globalSite is a gateway whose global limits share counts through its
// own replica.
type globalSite struct {
	g    *gateway.Gateway
	rep  *replica.Store
	addr string // the replica's
}

// globalSites starts n sites: replicas joined on loopback (a partition can
// cut them), and a gateway each with the rule of limitYAML.
func globalSites(tb testing.TB, n int, p *replicatest.Partition, limitYAML string) []*globalSite {
	tb.Helper()
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	tb.Cleanup(back.Close)
	var out []*globalSite
	for i := range n {
		tr, err := replicatest.NewTransport(p)
		if err != nil {
			tb.Fatal(err)
		}
		rc := replica.Config{
			Name: fmt.Sprintf("site-%d", i), Dir: tb.TempDir(), BindAddr: "127.0.0.1", Transport: tr,
			SecretKey: []byte("0123456789abcdef"), Network: replica.NetworkLocal, AntiEntropyInterval: 200 * time.Millisecond,
			Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		}
		if i > 0 {
			rc.Join = []string{out[0].addr}
		}
		rep, err := replica.Open(context.Background(), rc)
		if err != nil {
			tb.Fatal(err)
		}
		shared, err := globallimit.Start(rep, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			tb.Fatal(err)
		}
		cfg, err := config.Parse("g.yaml", fmt.Appendf(nil, `
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, health: {active: {type: none}}, discovery: [{static: {instances: [{addr: %q}]}}]}]
routes: [{name: all, service: api}]
replication: {dir: /tmp/unused, bind: "127.0.0.1:1", network: local}
rate_limits: [%s]
`, back.Listener.Addr().String(), limitYAML))
		if err != nil {
			tb.Fatal(err)
		}
		g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Global: globalCounters{shared}})
		if err != nil {
			tb.Fatal(err)
		}
		s := &globalSite{g: g, rep: rep, addr: tr.Addr()}
		tb.Cleanup(func() { g.Shutdown(context.Background()); shared.Close(); rep.Close() })
		out = append(out, s)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range out {
		for len(s.rep.Members()) != n {
			if time.Now().After(deadline) {
				tb.Fatal("the sites did not see each other in 20s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out
}

// offer sends requests to every site's gateway in-process at perSite
// requests a second each for d, and returns the admitted (200) and
// refused (429) counts per site, and how many one-second windows the
// sending touched (a limit of R per second admits up to R in each).
func offer(sites []*globalSite, perSite int, d time.Duration) (ok, refused []int64, windows int64) {
	return offerCounting(sites, perSite, d, nil)
}

// windowCounts counts admitted requests by one-second window.
type windowCounts struct {
	mu sync.Mutex
	n  map[int64]int64
}

func (w *windowCounts) add(window int64) {
	w.mu.Lock()
	w.n[window]++
	w.mu.Unlock()
}

// full returns the counts of the windows but the first and the last
// (partly covered by the sending).
func (w *windowCounts) full() []int64 {
	var ws []int64
	for k := range w.n {
		ws = append(ws, k)
	}
	slices.Sort(ws)
	var out []int64
	for _, k := range ws[1 : len(ws)-1] {
		out = append(out, w.n[k])
	}
	return out
}

func offerCounting(sites []*globalSite, perSite int, d time.Duration, byWindow *windowCounts) (ok, refused []int64, windows int64) {
	ok, refused = make([]int64, len(sites)), make([]int64, len(sites))
	first := time.Now().Unix()
	defer func() { windows = time.Now().Unix() - first + 1 }()
	var wg sync.WaitGroup
	for i, s := range sites {
		for w := range 4 { // four senders a site, each a quarter of the rate
			wg.Go(func() {
				every := time.Duration(float64(time.Second) * 4 / float64(perSite))
				next := time.Now().Add(time.Duration(w) * every / 4)
				end := time.Now().Add(d)
				for time.Now().Before(end) {
					if wait := time.Until(next); wait > 0 {
						time.Sleep(wait)
					}
					next = next.Add(every)
					rec := httptest.NewRecorder()
					s.g.ServeHTTP(rec, httptest.NewRequest("GET", "http://gw/x", nil))
					switch rec.Code {
					case 200:
						atomic.AddInt64(&ok[i], 1)
						if byWindow != nil {
							byWindow.add(time.Now().Unix())
						}
					case 429:
						atomic.AddInt64(&refused[i], 1)
					}
				}
			})
		}
	}
	wg.Wait()
	return ok, refused, 0 // windows: set by the deferred function
}

func sum(v []int64) (n int64) {
	for _, x := range v {
		n += x
	}
	return n
}

// Three sites share a global limit of 100/s, each offered 200/s: together
// they admit about the limit, not three times it (the bound checked is
// loose, as a busy machine delays the counts; the accuracy is measured by
// BenchmarkGlobalLimitAccuracy). A site cut off from the others admits
// only its share.
func TestGlobalLimitAcrossSites(t *testing.T) {
	p := replicatest.NewPartition()
	sites := globalSites(t, 3, p, `{name: global, rate: 100/s, global: {sites: 3}}`)
	ok, refused, windows := offer(sites, 200, 3*time.Second)
	if n := sum(ok); n > windows*100*3/2 {
		t.Errorf("admitted %d (by site %v) in %d windows under a global 100/s, want about %d and at most %d", n, ok, windows, windows*100, windows*150)
	}
	if sum(refused) == 0 {
		t.Errorf("no request refused: admitted %v", ok)
	}
	st := sites[0].g.RateLimits()[0]
	if st.Global == nil || !st.Global.Replicated || st.Global.Sites != 3 {
		t.Errorf("/v1/ratelimits global state %+v", st.Global)
	}
	// Site 0 alone: its share, a third, whatever it is offered.
	p.Isolate(sites[0].addr, sites[1].addr, sites[2].addr)
	// The others' counts age out after two windows: wait for the site to
	// say it is cut off.
	deadline := time.Now().Add(20 * time.Second)
	for !sites[0].g.RateLimits()[0].Global.CutOff {
		if time.Now().After(deadline) {
			t.Fatal("site 0 never found itself cut off")
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a bounded wait
	}
	ok, _, windows = offer(sites[:1], 200, 2*time.Second)
	if ok[0] > windows*33 {
		t.Errorf("the cut-off site admitted %d in %d windows, want at most its share, 33 a window", ok[0], windows)
	}
}

// BenchmarkGlobalLimitAccuracy: three sites on loopback share a global
// limit of 1,000 requests a second, each offered 1,000/s (3,000/s in
// all), for 10s; it reports what the sites together admitted in each
// whole one-second window against the limit: the mean, the least and the
// most.
//
//	go test -run '^$' -bench GlobalLimitAccuracy -benchtime 1x ./internal/gateway
func BenchmarkGlobalLimitAccuracy(b *testing.B) {
	sites := globalSites(b, 3, replicatest.NewPartition(), `{name: global, rate: 1000/s, global: {sites: 3}}`)
	for b.Loop() {
		start := time.Now()
		wc := &windowCounts{n: map[int64]int64{}}
		ok, refused, _ := offerCounting(sites, 1000, 10*time.Second, wc)
		secs := time.Since(start).Seconds()
		full := wc.full()
		lo, hi := slices.Min(full), slices.Max(full)
		b.ReportMetric(float64(sum(full))/float64(len(full))/1000, "of-limit")
		b.ReportMetric(float64(lo)/1000, "min-window")
		b.ReportMetric(float64(hi)/1000, "max-window")
		b.ReportMetric(float64(sum(ok)+sum(refused))/secs, "offered/s")
	}
}
