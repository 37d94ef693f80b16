package gateway

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/health"
	"github.com/duohuo/duohuo/internal/proxy"
	"github.com/duohuo/duohuo/request"
	"github.com/duohuo/duohuo/resilience"
)

// Headers the gateway adds to its own answers.
const (
	headerError = "X-Duohuo-Error" // why the gateway answered itself
)

// idempotent methods may be retried after the request reached an instance
// (RFC 9110, section 9.2.2).
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// tried is the set of instances a request has tried, for exclude.
type tried struct {
	ids [12]string
	n   int

	// After two gateway failures (connect, reset, timeout) in one
	// locality tier, the rest of the request avoids the whole tier: a cloud
	// that lost two instances at once has likely lost them all, and its
	// health checks have not caught up yet (Envoy's previous_priorities
	// retry policy does the same).
	tierFails [4]uint8
	avoid     [4]bool
	avoiding  bool
	tierOf    func(id string) (discovery.Tier, bool)
}

// failedIn records a gateway failure of an instance of tier t.
func (t *tried) failedIn(tier discovery.Tier) {
	if int(tier) >= len(t.tierFails) {
		return
	}
	if t.tierFails[tier]++; t.tierFails[tier] >= 2 {
		t.avoid[tier] = true
		t.avoiding = true
	}
}

func (t *tried) add(id string) {
	if t.n < len(t.ids) {
		t.ids[t.n] = id
		t.n++
	}
}

func (t *tried) contains(id string) bool {
	for i := 0; i < t.n; i++ {
		if t.ids[i] == id {
			return true
		}
	}
	if t.avoiding && t.tierOf != nil {
		if tier, ok := t.tierOf(id); ok && int(tier) < len(t.avoid) && t.avoid[tier] {
			return true
		}
	}
	return false
}

// failure classifies what went wrong with one attempt.
type failure uint8

const (
	failNone           failure = iota
	failConnect                // the connection could not be made: nothing was sent
	failReset                  // the connection broke before a response
	failTimeout                // the per-try timeout expired
	failGatewayStatus          // 502, 503, 504
	failServerStatus           // another 5xx
	failClientCanceled         // the client went away or the route timeout expired
)

func classify(ctx, tryCtx context.Context, resp *http.Response, err error) failure {
	if err == nil {
		switch {
		case resp.StatusCode == http.StatusBadGateway, resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
			return failGatewayStatus
		case resp.StatusCode >= 500:
			return failServerStatus
		}
		return failNone
	}
	if ctx.Err() != nil {
		return failClientCanceled
	}
	if tryCtx.Err() != nil {
		return failTimeout
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return failConnect
	}
	return failReset
}

func (f failure) healthClass(resp *http.Response) health.Class {
	switch f {
	case failConnect, failReset, failTimeout:
		return health.GatewayFailure
	case failGatewayStatus, failServerStatus:
		return health.ServerError
	}
	if resp != nil {
		return health.ClassOfStatus(resp.StatusCode)
	}
	return health.Success
}

func (f failure) retryable(on retryOn) bool {
	switch f {
	case failConnect:
		return on&retryConnectFailure != 0
	case failReset:
		return on&retryReset != 0
	case failTimeout:
		return on&retryTimeout != 0
	case failGatewayStatus:
		return on&retryGatewayError != 0
	case failServerStatus:
		return on&retry5xx != 0
	}
	return false
}

// ServeHTTP routes one request: see the package documentation. The fault
// filter, off unless configured, runs first.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.entry.ServeHTTP(w, r) }

// maxBreakerSkips bounds how many instances with an open breaker one request
// passes over before it gives up on the service.
const maxBreakerSkips = 8

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	view := request.FromHTTP(r)
	rt := g.table.Load().match(view)
	if rt == nil {
		g.m.requests.WithLabelValues("", "", "none", codeClasses[4]).Inc()
		w.Header().Set(headerError, "no route")
		http.Error(w, "duohuo: no route for "+r.Host+r.URL.Path, http.StatusNotFound)
		return
	}
	svc := rt.svc
	svc.inflight.Add(1)
	defer svc.inflight.Add(-1)

	status, cloud := 0, "none"
	// Traffic color: believed only from trusted peers (or with a valid
	// token), stripped otherwise, so no outside client enters a lane.
	prop := g.color.Load()
	lane := ""
	if prop.Carries(r.Header) {
		var trusted bool
		if lane, trusted = prop.Incoming(r); !trusted {
			prop.Strip(r.Header)
			g.gm.stripped.Inc()
			lane = ""
		}
	}
	// Gray release: the route's policy picks a subset (lane) and its
	// balancer. Lanes are rebuilt off the request path when instances,
	// health or the policy change; the first request after a policy change
	// builds them if the rebuild has not happened yet, so an apply or a
	// rollback holds from the next request on.
	bal := svc.bal
	var gd gray.Decision
	var ln *lanes
	router := g.gray.Router(rt.name)
	if router != nil {
		if ln = svc.lanesFor(rt.name, router); ln != nil {
			gd = router.Route(view, lane)
			bal = ln.bals[gd.Index]
			if gd.Subset != router.Baseline() {
				prop.Set(r.Header, gd.Subset) // the next hops stay in the lane
			}
			w.Header().Set(color.ServedHeader, gd.Subset)
			ls := ln.seriesFor(g.gm, rt.name, gd.Index, gd.Subset)
			defer func(start time.Time) {
				ls.codes[codeIndex(status)].Inc()
				ls.duration.Observe(time.Since(start).Seconds())
			}(start)
		} else {
			router = nil
		}
	}

	id := proxy.RequestID(r)
	w.Header().Set(proxy.HeaderRequestID, id)
	var fail failure // of the last attempt
	upCode := 0      // status the last attempt got from an instance, 0 if none
	if rt.breaker != nil {
		tk, err := rt.breaker.Allow()
		if err != nil { // the route's circuit is open: straight to the fallback
			status = g.failed(w, r, rt, http.StatusServiceUnavailable, "route circuit open")
			g.record(rt, cloud, status, start)
			return
		}
		defer func() {
			now := time.Now()
			// The instances' outcome, not what a fallback made of it.
			rt.breaker.DoneAt(tk, breakerClass(fail, upCode), now.Sub(start), now)
		}()
	}
	ctx := r.Context()
	if rt.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.timeout)
		defer cancel()
	}
	body := proxy.NewBody(r.Body)
	rt.budget.Request()
	if rt.hedge != nil {
		rt.hedge.budget.Request()
	}

	// Most requests make one attempt: the set of tried instances and the
	// exclude func over it are made only when a second pick needs them.
	var seen *tried
	var exclude func(string) bool
	var prev string // the instance of the last pick while seen is nil
	excludeTried := func() {
		if exclude == nil {
			seen = &tried{}
			seen.add(prev)
			exclude = seen.contains
		}
	}
	skips := 0
	for attempt := 0; ; attempt++ {
		p, err := bal.Pick(view, exclude)
		if err != nil && router != nil && errors.Is(err, balancer.ErrNoInstance) {
			// The lane has no healthy instance: the baseline takes the
			// request (permissive), or nothing does (strict).
			if fb, ok := router.Fallback(gd); ok {
				g.gm.fallbacks.WithLabelValues(rt.name, gd.Subset).Inc()
				gd, bal = fb, ln.bals[fb.Index]
				w.Header().Set(color.ServedHeader, gd.Subset)
				attempt--
				continue
			}
			fail = failConnect
			status = g.failed(w, r, rt, http.StatusServiceUnavailable, "no healthy instance in lane "+gd.Subset+" of "+svc.name)
			break
		}
		if err != nil {
			fail = failConnect
			if errors.Is(err, balancer.ErrNoInstance) {
				status = g.failed(w, r, rt, http.StatusServiceUnavailable, "no healthy instance of "+svc.name)
			} else {
				status = g.failed(w, r, rt, http.StatusInternalServerError, err.Error())
			}
			break
		}
		in := p.Instance
		if seen != nil {
			seen.add(in.ID)
		} else {
			prev = in.ID
		}
		var br *breaker.Breaker
		var tk breaker.Ticket
		if svc.breaker != nil {
			br = svc.breaker.Get(in.ID)
			if tk, err = br.Allow(); err != nil {
				// Open circuit: not an attempt; look elsewhere.
				p.Done(0, true)
				excludeTried()
				attempt--
				if skips++; skips > maxBreakerSkips {
					fail = failConnect
					status = g.failed(w, r, rt, http.StatusServiceUnavailable, "every instance's circuit is open")
					break
				}
				continue
			}
		}
		tryCtx, cancelTry := ctx, context.CancelFunc(nil)
		if rt.perTry > 0 {
			tryCtx, cancelTry = context.WithTimeout(ctx, rt.perTry)
		}
		var hedgeAfter time.Duration
		hedging := false
		if rt.hedge != nil && attempt == 0 && body == nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			if hedgeAfter, hedging = rt.hedge.delay(); hedging {
				// An instance known to be much slower than the route's
				// percentile gets its hedge at once, not after the wait.
				if st, ok := bal.Stats(in.ID); ok && st.Latency > 2*hedgeAfter {
					hedgeAfter = 0
				}
				if cancelTry == nil {
					tryCtx, cancelTry = context.WithCancel(ctx) // the loser is cancelled
				}
			}
		}
		out := g.fwd.Outbound(tryCtx, r, svc.scheme, hostPort(in.Addr), id, body)
		t0 := time.Now()
		var resp *http.Response
		if hedging {
			first := &try{bal: bal, p: p, br: br, tk: tk, ctx: tryCtx, cancel: cancelTry, t0: t0}
			won := g.hedgedRoundTrip(svc.tr, first, out, hedgeAfter, func() (*try, *http.Request) {
				return g.hedgeTry(ctx, r, rt, svc, bal, view, in.ID, id)
			})
			p, br, tk, tryCtx, cancelTry, t0, resp, err = won.p, won.br, won.tk, won.ctx, won.cancel, won.t0, won.resp, won.err
			in = p.Instance
		} else {
			resp, err = svc.tr.RoundTrip(out)
		}
		t1 := time.Now()
		if err == nil && rt.hedge != nil {
			rt.hedge.lat.Observe(t1.Sub(t0))
		}
		lat := t1.Sub(t0)
		fail = classify(ctx, tryCtx, resp, err)
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		upCode = code
		if br != nil {
			br.DoneAt(tk, breakerClass(fail, code), lat, t1)
		}
		if fail == failClientCanceled {
			// Not the instance's fault: report nothing against it.
			p.Done(lat, true)
			if resp != nil {
				resp.Body.Close()
			}
			if cancelTry != nil {
				cancelTry()
			}
			if r.Context().Err() == nil { // the route timeout, not the client
				status = g.failed(w, r, rt, http.StatusGatewayTimeout, "route timeout")
			} else {
				status = 499 // client closed request (nginx's code); nothing is written
			}
			break
		}
		class := fail.healthClass(resp)
		svc.tracker.Observe(in.ID, health.Outcome{Class: class, Latency: lat})
		p.Done(lat, class == health.Success || class == health.ClientError)
		svc.attemptSeries(in)[class].Inc()

		if fail != failNone && attempt < rt.attempts && fail.retryable(rt.retryOn) &&
			(fail == failConnect || idempotent(r.Method)) && !body.Touched() && rt.budget.AllowRetry() {
			if resp != nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
				resp.Body.Close()
			}
			if cancelTry != nil {
				cancelTry()
			}
			rt.retriesMetric.Inc()
			excludeTried()
			if fail == failConnect || fail == failReset || fail == failTimeout {
				seen.tierOf = svc.tierOf
				seen.failedIn(p.Tier)
			}
			if d := resilience.Backoff(attempt+1, rt.backoffBase, rt.backoffMax, rand.Float64()); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
			}
			continue
		}
		cloud = in.Locality.Cloud
		switch {
		case err != nil && fail == failTimeout:
			status = g.failed(w, r, rt, http.StatusGatewayTimeout, "upstream timeout")
		case err != nil:
			status = g.failed(w, r, rt, http.StatusBadGateway, "upstream unreachable")
		case fail == failGatewayStatus && rt.fallback != nil:
			// Every try ended in 502/503/504: answer from the fallback if
			// it has something, else pass the instance's answer on.
			if st, ok := g.serveFallback(w, r, rt); ok {
				resp.Body.Close()
				status = st
				break
			}
			fallthrough
		default:
			status = resp.StatusCode
			rw := w
			var capture *captureWriter
			if fb := rt.fallback; fb != nil && fb.stale != nil && fail == failNone && r.Method == http.MethodGet {
				capture = &captureWriter{ResponseWriter: w, limit: fb.stale.MaxEntryBytes()}
				rw = capture
			}
			if _, err := g.fwd.Respond(g.tunnelCtx, rw, r, resp); errors.Is(err, proxy.ErrUpstreamBody) {
				if cancelTry != nil {
					cancelTry()
				}
				g.record(rt, cloud, status, start)
				// The status line is out: abort so the client sees a
				// broken response, not a short one (as ReverseProxy does).
				panic(http.ErrAbortHandler)
			} else if err == nil && capture != nil {
				capture.store(rt.fallback, r, status)
			}
		}
		if cancelTry != nil {
			cancelTry()
		}
		break
	}
	g.record(rt, cloud, status, start)
}

// failed answers a request the gateway could not get answered: from the
// route's fallback if it has one that applies, else with the gateway's own
// error reply. It returns the status sent.
func (g *Gateway) failed(w http.ResponseWriter, r *http.Request, rt *route, status int, why string) int {
	if st, ok := g.serveFallback(w, r, rt); ok {
		return st
	}
	return g.answer(w, status, why)
}

func (g *Gateway) record(rt *route, cloud string, status int, start time.Time) {
	s := rt.series.get(cloud)
	s.codes[codeIndex(status)].Inc()
	s.duration.Observe(time.Since(start).Seconds())
}

// answer writes the gateway's own error reply and returns its status.
func (g *Gateway) answer(w http.ResponseWriter, status int, why string) int {
	w.Header().Set(headerError, why)
	http.Error(w, "duohuo: "+why, status)
	return status
}

// hostPorts memoises netip.AddrPort.String for the upstream URL of each
// attempt, which would otherwise allocate a string per request. It is a
// copy-on-write map read without a lock; a pure function's cache, so one is
// shared by every Gateway in the process. It stops growing at maxHostPorts
// entries (instances churning through many addresses): beyond that, new
// addresses are formatted per call.
var (
	hostPorts   atomic.Pointer[map[netip.AddrPort]string]
	hostPortsMu sync.Mutex // serialises writers of hostPorts
)

const maxHostPorts = 4096

func hostPort(ap netip.AddrPort) string {
	if m := hostPorts.Load(); m != nil {
		if s, ok := (*m)[ap]; ok {
			return s
		}
	}
	s := ap.String()
	hostPortsMu.Lock()
	defer hostPortsMu.Unlock()
	old := hostPorts.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if n >= maxHostPorts {
		return s
	}
	next := make(map[netip.AddrPort]string, n+1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[ap] = s
	hostPorts.Store(&next)
	return s
}

// hedgeTry picks a second instance for a hedged request and prepares its
// try, or returns nil when no other instance, breaker or budget allows one.
func (g *Gateway) hedgeTry(ctx context.Context, r *http.Request, rt *route, svc *service, bal *balancer.Balancer, view request.View, firstID, reqID string) (*try, *http.Request) {
	if !rt.hedge.budget.AllowRetry() {
		return nil, nil
	}
	p, err := bal.Pick(view, func(id string) bool { return id == firstID })
	if err != nil {
		return nil, nil
	}
	t := &try{bal: bal, p: p}
	if svc.breaker != nil {
		t.br = svc.breaker.Get(p.Instance.ID)
		if t.tk, err = t.br.Allow(); err != nil {
			p.Done(0, true)
			return nil, nil
		}
	}
	if rt.perTry > 0 {
		t.ctx, t.cancel = context.WithTimeout(ctx, rt.perTry)
	} else {
		t.ctx, t.cancel = context.WithCancel(ctx)
	}
	t.t0 = time.Now()
	return t, g.fwd.Outbound(t.ctx, r, svc.scheme, hostPort(p.Instance.Addr), reqID, nil)
}
