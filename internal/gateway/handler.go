package gateway

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/duohuo/duohuo/balancer"
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

// ServeHTTP routes one request: see the package documentation.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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

	id := proxy.RequestID(r)
	w.Header().Set(proxy.HeaderRequestID, id)
	ctx := r.Context()
	if rt.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rt.timeout)
		defer cancel()
	}
	body := proxy.NewBody(r.Body)
	rt.budget.Request()

	var seen tried
	var exclude func(string) bool // nil on the first try: no allocation
	status, cloud := 0, "none"
	for attempt := 0; ; attempt++ {
		p, err := svc.bal.Pick(view, exclude)
		if err != nil {
			if errors.Is(err, balancer.ErrNoInstance) {
				status = g.answer(w, http.StatusServiceUnavailable, "no healthy instance of "+svc.name)
			} else {
				status = g.answer(w, http.StatusInternalServerError, err.Error())
			}
			break
		}
		in := p.Instance
		seen.add(in.ID)
		tryCtx, cancelTry := ctx, context.CancelFunc(nil)
		if rt.perTry > 0 {
			tryCtx, cancelTry = context.WithTimeout(ctx, rt.perTry)
		}
		out := g.fwd.Outbound(tryCtx, r, svc.scheme, in.Addr.String(), id, body)
		t0 := time.Now()
		resp, err := svc.tr.RoundTrip(out)
		lat := time.Since(t0)
		fail := classify(ctx, tryCtx, resp, err)
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
				status = g.answer(w, http.StatusGatewayTimeout, "route timeout")
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
			if exclude == nil {
				exclude = seen.contains
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
		if err != nil {
			switch fail {
			case failTimeout:
				status = g.answer(w, http.StatusGatewayTimeout, "upstream timeout")
			default:
				status = g.answer(w, http.StatusBadGateway, "upstream unreachable")
			}
		} else {
			status = resp.StatusCode
			if _, err := g.fwd.Respond(g.tunnelCtx, w, r, resp); errors.Is(err, proxy.ErrUpstreamBody) {
				if cancelTry != nil {
					cancelTry()
				}
				g.record(rt, cloud, status, start)
				// The status line is out: abort so the client sees a
				// broken response, not a short one (as ReverseProxy does).
				panic(http.ErrAbortHandler)
			}
		}
		if cancelTry != nil {
			cancelTry()
		}
		break
	}
	g.record(rt, cloud, status, start)
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
