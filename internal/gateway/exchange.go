package gateway

// The exchange core: one client request through route → color → gray →
// route breaker → attempts (pick, instance breaker, send, retry, hedge) →
// answer (the winning response, the last upstream answer, a fallback or the
// gateway's own error). It works on three seams an HTTP engine provides —
// [Request], [Upstream] and [Responder] — and never on an engine's own
// types: this file and outcome.go import no HTTP library, which
// TestExchangeIsEngineNeutral checks.

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/request"
	"github.com/duohuo/duohuo/resilience"
)

// Request is the engine's view of the client request, for the core.
type Request interface {
	request.View
	// Color returns the lane the request carries under p's rules and
	// whether its sender is believed; carried is false when it carries
	// none.
	Color(p *color.Propagator) (lane string, carried, trusted bool)
	// StripColor removes every color header (an untrusted sender's).
	StripColor(p *color.Propagator)
	// SetColor makes the attempts carry lane, so the next hops stay in it.
	SetColor(p *color.Propagator, lane string)
	// Idempotent reports whether the method may be sent twice (RFC 9110,
	// section 9.2.2).
	Idempotent() bool
	// GRPC reports whether the request is a gRPC call.
	GRPC() bool
	// Timeout is the deadline the client set on the call (gRPC's
	// grpc-timeout), 0 when none.
	Timeout() time.Duration
	// ForwardPath applies the route's escaped-path mode to a path that
	// spells a slash, backslash or dot escaped (path.go), and reports
	// whether the request may go on; false: it is refused with 400.
	ForwardPath(mode escapedPath) bool
}

// Upstream sends attempts of the current request.
type Upstream interface {
	// Begin is called once, before the first attempt.
	Begin(b begin)
	// Send sends the request to in, an instance of svc (whose transport
	// carries the attempt), and returns when the response head has
	// arrived. Cancelling ctx aborts the attempt and, after Send returned,
	// the response body. An error is an *AttemptError or any other error
	// (treated as a reset).
	Send(ctx context.Context, svc *service, in *discovery.Instance) (Response, error)
	// Replayable reports whether the request can be sent again: it has no
	// body, or its body was kept whole, or no attempt has read from it.
	Replayable() bool
	// ClientError returns the error the client caused while an attempt read
	// its body (bad framing, too large, too slow, gone), with the status to
	// answer it with; nil if none.
	ClientError() (status int, err error)
}

// begin is what the core tells an engine before the first attempt.
type begin struct {
	// Idle bounds each wait for the client's request body; 0: none.
	Idle time.Duration
	// Sent is told each time the request has been written whole (at
	// each Send for a request without a body): it starts the route's
	// deadline.
	Sent Sender
	// StatusWait, when not 0, asks that a gRPC response whose head
	// carries no status be read ahead for up to that long, so that a call
	// that ended at once (headers, then UNAVAILABLE in the trailers)
	// reports its status in Response.Status: the route retries on it.
	StatusWait time.Duration
	// Upgrades are the Upgrade tokens the route tunnels: a request asking
	// for another is sent without its Upgrade header.
	Upgrades []string
	// Buffer, when not 0, asks that a request body of up to that many
	// bytes be read whole before the first attempt (request_buffering):
	// a slow client then holds no upstream connection, and the body can
	// be sent again. A longer one streams.
	Buffer int
}

// Sender learns that the request was sent whole.
type Sender interface{ RequestSent() }

// tracer follows one request for its trace (tracing.go): the core tells it
// each attempt and the decisions its own fields do not keep; what they
// keep (route, lane, outcome) it reads when the request ends. nil: the
// request is not traced, and the core calls nothing. It must not block;
// attempt and note may be called from a hedge's goroutine.
type tracer interface {
	// attempt starts the span of attempt a, the resend'th resend of the
	// request (0: the first try), racing the current one when hedge is
	// set, and returns the context to send it with.
	attempt(ctx context.Context, x *exchange, a *attempt, resend int, hedge bool) context.Context
	// note records a decision of the request.
	note(k note, v string)
}

// attemptSpan is the span of one attempt; done ends it with the attempt's
// outcome (from service.report, once).
type attemptSpan interface{ done(o Outcome) }

// note names a decision a tracer is told about.
type note uint8

// The decisions the exchange's fields do not keep.
const (
	noteFallback     note = iota // the route's fallback answered: "stale" or "static"
	noteLaneFallback             // the lane had no instance: v is the lane given up for the baseline
	noteRouteOpen                // the route's breaker is open
	noteBudgetSpent              // a retry was wanted but the retry budget was spent: v is the reason
	noteReply                    // the gateway answered itself: v is the reason
)

// AttemptError is an attempt failure an engine has classified.
type AttemptError struct {
	Class Class
	Err   error
}

func (e *AttemptError) Error() string { return e.Class.String() + ": " + e.Err.Error() }
func (e *AttemptError) Unwrap() error { return e.Err }

// Response is an instance's response head; its body is not read yet.
type Response interface {
	// Status is the status the core classifies: the HTTP status, or for a
	// gRPC response that carries its status in the head (trailers-only),
	// the HTTP status equivalent to that gRPC status.
	Status() int
	// Discard drops the response: closes its body, reading a little first
	// so that the connection can be reused.
	Discard()
}

// Responder writes the answer to the client.
type Responder interface {
	// SetHeader sets a header on whatever answer is written.
	SetHeader(name, value string)
	// Forward sends resp on to the client: the head at once, then the body
	// as it arrives (see forwarding), then the trailers. It returns the
	// body bytes written; trailerStatus is the HTTP equivalent of a gRPC
	// status found in the trailers (0 when none); err wraps
	// errUpstreamBroke or errUpstreamIdle when the instance failed midway
	// (the engine must then end the client response as broken, never as a
	// clean short one), errClientGone when the client went away.
	Forward(resp Response, f forwarding) (bytes int64, trailerStatus int, err error)
	// Reply sends an answer the gateway made: status and a short reason (an
	// HTTP page, or a gRPC status for gRPC calls). Status 499 writes
	// nothing: the client is gone.
	Reply(status int, reason string)
	// Static sends a static fallback reply.
	Static(s staticReply)
	// Stale sends the stored response for this request from c, if there
	// is one, and reports whether it did.
	Stale(c *resilience.StaleCache) (status int, ok bool)
}

// forwarding tunes how Forward streams a response.
type forwarding struct {
	// Idle cuts a response body that sends nothing for this long; 0: none.
	Idle time.Duration
	// Stale, when set, keeps the response for serve-stale if it may be
	// stored.
	Stale *resilience.StaleCache
}

// staticReply is a static fallback answer.
type staticReply struct {
	Status      int
	ContentType string
	Body        string
}

// Errors a Responder's Forward wraps.
var (
	errUpstreamBroke = errors.New("upstream response body broke off")
	errUpstreamIdle  = errors.New("upstream response body idle too long")
	errClientGone    = errors.New("client went away")
)

// Gateway-made answers carry a short reason in this header.
const headerError = "X-Duohuo-Error"

// maxBreakerSkips bounds how many instances with an open breaker one request
// passes over before it uses them anyway (panic).
const maxBreakerSkips = 8

// attempt is one try of a request on one instance.
type attempt struct {
	pick   balancer.Pick
	br     *breaker.Breaker // nil: no ticket (no breaker, or panic over open breakers)
	tk     breaker.Ticket
	ctx    context.Context
	cancel context.CancelFunc
	t0     time.Time

	// Guarded by exchange.mu once the attempt may race a hedge.
	resp     Response
	err      error
	headed   bool        // the response head arrived in time
	late     bool        // it outlived its per-try deadline; a hedge may race it
	avoided  bool        // picked while the request avoided a locality tier
	span     attemptSpan // nil: not traced
	timedOut bool        // a deadline cancelled it
	lost     bool        // another try won; it was cancelled
	done     bool        // Send returned
}

// exchange is one client request on its way through the core.
type exchange struct {
	g     *Gateway
	rt    *route
	svc   *service
	req   Request
	up    Upstream
	out   Responder
	ctx   context.Context // the client's
	start time.Time
	bal   *balancer.Balancer
	gd    gray.Decision
	ln    *lanes
	gr    *gray.Router

	status int    // sent to the client
	cloud  string // of the instance that answered, "none" if none

	mu             sync.Mutex // guards what the deadline timer and a hedge share with the handler
	seen           tried
	timer          *time.Timer
	routeAt        time.Time     // when the route deadline expires; zero: not armed
	hedgeAt        time.Time     // when the current attempt gets a hedge; zero: never
	hedgeIsPerTry  bool          // hedgeAt is the adaptive per-try deadline, not a hedge delay
	cancelAt       time.Time     // when the current attempt is cancelled (fixed per-try timeout); zero: never
	checkAt        time.Time     // when to look whether the current attempt's tier went suspect; zero: never
	checkEvery     time.Duration // how often
	tryArmed       bool          // the current attempt's own deadlines are set
	primary        *attempt
	hedge          *attempt
	hedgeRes       chan *attempt // the hedge's attempt when Send returned
	expired        bool          // the route deadline passed
	clientDeadline bool          // the route deadline is the client's own (grpc-timeout)
	tries          int           // attempts sent
	abort          bool          // the client response must end as broken

	clientFault bool    // the request failed because of the client
	final       Outcome // of the attempt that decided the answer
	hasFinal    bool
	held        *attempt // a failed attempt's answer, kept until a retry goes out
	first       attempt  // the first attempt, held here to save an allocation
	firstUsed   bool
	fireFn      func()      // x.fire, made once
	quiet       bool        // set when run ends: see done
	overrun     atomic.Bool // the route's max_duration passed
	heldOutcome Outcome
	prev        *Outcome // the last failed attempt without an answer

	slots     [2]slot // concurrency slots held (ratelimit.go), given back when run ends
	nslots    int
	moreSlots []slot // beyond the first two

	tr tracer // nil: not traced; set by the engine before runIn
}

// run drives one request. It returns true when the engine must end the
// client's response as broken (the instance failed after the head was
// sent).
func (g *Gateway) run(ctx context.Context, req Request, up Upstream, out Responder) (abort bool) {
	return g.runIn(new(exchange), ctx, req, up, out)
}

// runIn is run on an exchange the engine provides (zero), so that an
// engine's per-request struct can hold it and save an allocation.
func (g *Gateway) runIn(x *exchange, ctx context.Context, req Request, up Upstream, out Responder) (abort bool) {
	// A reused exchange keeps its stopped timer and its fire func (both
	// bound to x): no allocation for either.
	timer, fire, tr := x.timer, x.fireFn, x.tr
	*x = exchange{g: g, req: req, up: up, out: out, ctx: ctx, start: time.Now(), cloud: "none", timer: timer, fireFn: fire, tr: tr}
	x.rt = g.table.Load().match(req)
	if x.rt == nil {
		g.m.requests.WithLabelValues("", "", "none", codeClasses[4]).Inc()
		if !req.ForwardPath(escapedReject) {
			// No route opted in to escaped slashes or dots: refused as
			// a route that rejects them would (its decoded form may
			// have left a route's prefix).
			x.status = 400
			out.Reply(400, "escaped path")
			return false
		}
		x.status = 404
		out.Reply(404, "no route")
		return false
	}
	x.svc = x.rt.svc
	x.svc.inflight.Add(1)
	defer x.svc.inflight.Add(-1)
	if !x.req.ForwardPath(x.rt.escaped) {
		x.status = 400
		out.Reply(400, "escaped path")
		x.record()
		return false
	}
	x.route()
	defer x.record()
	defer x.stopTimer()
	if len(x.rt.limits) > 0 { // rate_limits (ratelimit.go): 429 or a wait
		defer x.release()
		if !x.admit() {
			return false
		}
	}
	if x.rt.breaker != nil {
		tk, err := x.rt.breaker.Allow()
		if err != nil { // the route's circuit is open: straight to the fallback
			x.note(noteRouteOpen, "")
			x.fail(503, "route circuit open")
			return false
		}
		defer func() { x.rt.breaker.DoneAt(tk, x.routeClass(), time.Since(x.start), time.Now()) }()
	}
	if d := x.rt.maxDuration; d > 0 {
		// The whole exchange, body transfer included: every attempt and
		// the answer's stream end when it passes.
		var cancel context.CancelFunc
		x.ctx, cancel = context.WithCancel(x.ctx)
		limit := time.AfterFunc(d, func() { x.overrun.Store(true); cancel() })
		defer func() { limit.Stop(); cancel() }()
	}
	var wait time.Duration
	if x.req.GRPC() && x.rt.retryOn&retryUnavailable != 0 && x.rt.attempts > 0 {
		wait = x.rt.statusWait
	}
	x.up.Begin(begin{Idle: x.rt.idleTimeout, Sent: x, StatusWait: wait, Upgrades: x.rt.upgrades, Buffer: x.rt.bufferMax})
	x.attempts()
	return x.abort
}

// stopTimer stops the deadline timer once the request is answered.
func (x *exchange) stopTimer() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.routeAt, x.hedgeAt, x.cancelAt, x.checkAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	x.quiet = x.hedge == nil && (x.timer == nil || x.timer.Stop())
}

// done reports whether nothing can touch x any more once run returned: the
// deadline timer never fired (and never will) and no hedge ran, so that
// an engine may reuse the memory of the exchange.
func (x *exchange) done() bool { return x.quiet }

// route applies color and gray: which balancer (lane) the attempts use.
func (x *exchange) route() {
	// Traffic color: believed only from trusted peers (or with a valid
	// token), stripped otherwise, so no outside client enters a lane.
	prop := x.g.color.Load()
	lane, carried, trusted := x.req.Color(prop)
	if carried && !trusted {
		x.req.StripColor(prop)
		x.g.gm.stripped.Inc()
		lane = ""
	}
	x.bal = x.svc.bal
	// Gray release: lanes are rebuilt off the request path when instances,
	// health or the policy change; the first request after a policy change
	// builds them if the rebuild has not happened yet.
	if r := x.g.gray.Router(x.rt.name); r != nil {
		if ln := x.svc.lanesFor(x.rt.name, r); ln != nil {
			x.gr, x.ln = r, ln
			x.gd = r.Route(x.req, lane)
			x.bal = ln.bals[x.gd.Index]
			if x.gd.Subset != r.Baseline() {
				x.req.SetColor(prop, x.gd.Subset)
			}
			x.out.SetHeader(color.ServedHeader, x.gd.Subset)
		}
	}
	x.rt.budget.Request()
	if x.rt.hedge != nil {
		x.rt.hedge.budget.Request()
	}
}

// record counts the answered request in the route's (and lane's) series.
func (x *exchange) record() {
	now := time.Now()
	el := now.Sub(x.start)
	d := el.Seconds()
	s := x.rt.series.get(x.cloud)
	s.codes[codeIndex(x.status)].Inc()
	s.duration.Observe(d)
	if s.sli != nil { // the SLIs see what the client saw: once per request
		s.sli.observe(now, x.status, el, s.slow)
	}
	if x.ln != nil {
		ls := x.ln.seriesFor(x.g.gm, x.rt.name, x.gd.Index, x.gd.Subset)
		ls.codes[codeIndex(x.status)].Inc()
		ls.duration.Observe(d)
	}
}

// routeClass is the route breaker's view of the request: the instances'
// outcome, not what a fallback made of it.
func (x *exchange) routeClass() breaker.Class {
	switch {
	case x.status == 499 || x.clientFault:
		return breaker.Canceled
	case x.hasFinal:
		return x.final.breakerClass()
	case x.status >= 500: // nothing to send to
		return breaker.Network
	}
	return breaker.ClassOfStatus(x.status)
}

// attempts is the attempt loop: pick, send (racing a hedge when allowed),
// then forward the answer or retry.
func (x *exchange) attempts() {
	for {
		a, status, why := x.pick()
		if h := x.held; h != nil { // the answer a retry set aside
			x.held = nil
			if a == nil { // nothing else to try: the last answer, as it came
				x.forward(h, x.heldOutcome)
				return
			}
			h.resp.Discard()
			h.resp = nil
			x.svc.report(h, x.heldOutcome, x.rt)
			h.cancel()
		}
		if a == nil && x.prev != nil { // nothing else to try after a failure
			x.failOutcome(*x.prev)
			return
		}
		if a == nil {
			x.fail(status, why)
			return
		}
		if x.tries > 0 {
			x.rt.retriesMetric.Inc()
		}
		a, o := x.send(a)
		if a.resp != nil && o.Fault == FaultNone {
			x.forward(a, o)
			return
		}
		if x.retry(a, o) {
			continue
		}
		if a.resp != nil { // nothing else to try: the last answer, as it came
			if o.Class == ClassGatewayStatus && x.rt.fallback != nil {
				if st, ok := x.fallback(); ok {
					a.resp.Discard()
					x.final, x.hasFinal = o, true
					x.svc.report(a, o, x.rt)
					x.status = st
					return
				}
			}
			x.forward(a, o)
			return
		}
		x.svc.report(a, o, x.rt)
		x.final, x.hasFinal = o, true
		x.cloud = a.pick.Instance.Locality.Cloud
		x.failOutcome(o)
		return
	}
}

// pick chooses the instance of the next attempt and takes its breaker
// ticket. An instance whose breaker is open is passed over; when every
// candidate's is, the request uses them anyway (panic), as it does with
// ejected instances: breakers move traffic between instances, they never
// leave a service with nothing. It returns nil and the answer to give when
// nothing can be picked.
func (x *exchange) pick() (*attempt, int, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	skips := 0
	var skipped [maxBreakerSkips]string
	excludeAll := func(id string) bool {
		for _, s := range skipped[:skips] {
			if s == id {
				return true
			}
		}
		return x.seen.contains(id)
	}
	for {
		exclude := x.seen.exclude()
		if skips > 0 {
			exclude = excludeAll
		}
		p, err := x.bal.Pick(x.req, exclude)
		if err != nil && x.seen.avoiding {
			// The tiers avoided were the only ones with instances left:
			// better one of them than none.
			x.seen.clearAvoid()
			continue
		}
		if err != nil && skips > 0 {
			// Every candidate left has an open circuit: use them anyway.
			if p, err = x.bal.Pick(x.req, x.seen.exclude()); err == nil {
				x.seen.add(p.Instance.ID)
				a := x.newAttempt(p)
				a.avoided = x.seen.avoiding
				return a, 0, ""
			}
		}
		if err != nil && x.gr != nil && errors.Is(err, balancer.ErrNoInstance) {
			// The lane has no healthy instance: the baseline takes the
			// request (permissive), or nothing does (strict).
			if fb, ok := x.gr.Fallback(x.gd); ok {
				x.g.gm.fallbacks.WithLabelValues(x.rt.name, x.gd.Subset).Inc()
				x.note(noteLaneFallback, x.gd.Subset)
				x.gd, x.bal = fb, x.ln.bals[fb.Index]
				x.out.SetHeader(color.ServedHeader, x.gd.Subset)
				continue
			}
			return nil, 503, "no healthy instance: lane " + x.gd.Subset + " of " + x.svc.name
		}
		if err != nil {
			if errors.Is(err, balancer.ErrNoInstance) {
				return nil, 503, "no healthy instance: " + x.svc.name
			}
			return nil, 500, "internal error: " + err.Error()
		}
		a := x.newAttempt(p)
		if x.svc.breaker != nil {
			a.br = x.svc.breaker.Get(p.Instance.ID)
			tk, err := a.br.Allow()
			if err != nil && skips < maxBreakerSkips {
				p.Done(0, balancer.Neutral) // not an attempt: look elsewhere
				skipped[skips] = p.Instance.ID
				skips++
				continue
			}
			if err != nil {
				a.br = nil // too many open circuits to pass over: panic
			}
			a.tk = tk
		}
		x.seen.add(p.Instance.ID)
		a.avoided = x.seen.avoiding
		return a, 0, ""
	}
}

// newAttempt returns a new attempt for p: the exchange's own first one,
// then allocated ones. x.mu held.
func (x *exchange) newAttempt(p balancer.Pick) *attempt {
	if !x.firstUsed {
		x.firstUsed = true
		x.first = attempt{pick: p}
		return &x.first
	}
	return &attempt{pick: p}
}

// send runs attempt a and, when the route allows it, a hedge to another
// instance once a has no answer after the hedge delay. It returns the
// attempt whose result counts — the first to get a response head, or the
// last to fail — with its outcome, not yet reported; every other attempt
// is reported here.
func (x *exchange) send(a *attempt) (*attempt, Outcome) {
	a.ctx, a.cancel = context.WithCancel(x.ctx)
	x.mu.Lock()
	x.tries++
	resend := x.tries - 1
	x.primary, x.hedge = a, nil
	now := time.Now()
	// The attempt's own deadlines start when it has sent the request
	// whole (RequestSent): a slow upload is not a slow instance.
	x.tryArmed = false
	x.hedgeAt, x.cancelAt = time.Time{}, time.Time{}
	x.checkAt, x.checkEvery = time.Time{}, 0
	x.mu.Unlock()
	a.t0 = now
	if x.tr != nil {
		a.ctx = x.tr.attempt(a.ctx, x, a, resend, false)
	}
	resp, err := x.up.Send(a.ctx, x.svc, a.pick.Instance)
	x.mu.Lock()
	a.done, a.resp, a.err = true, resp, err
	if resp != nil && !a.timedOut && !a.lost {
		a.headed = true
	}
	x.hedgeAt, x.cancelAt, x.checkAt = time.Time{}, time.Time{}, time.Time{}
	h := x.hedge
	switch {
	case h == nil:
		x.mu.Unlock()
		return a, x.outcome(a)
	case a.headed:
		drain := h.done // it failed first and waits in hedgeRes; else runHedge reports it
		if !h.done {
			h.lost = true
			h.cancel()
		}
		x.mu.Unlock()
		if drain {
			b := <-x.hedgeRes
			x.svc.report(b, x.outcome(b), x.rt)
			b.cancel()
		}
		return a, x.outcome(a)
	}
	x.mu.Unlock()
	// The hedge is running or has won: a failure does not win while the
	// other try may still answer.
	b := <-x.hedgeRes
	x.mu.Lock()
	x.primary = b
	x.mu.Unlock()
	oa := x.outcome(a)
	if b.headed {
		oa = Outcome{Class: ClassCanceled, Latency: time.Since(a.t0), Reached: true}
		if a.late { // it outlived its per-try deadline and lost: slow
			oa = Outcome{Class: ClassTimeout, Fault: FaultInstance, Latency: time.Since(a.t0), Reached: true}
		}
	}
	x.svc.report(a, oa, x.rt)
	a.cancel()
	return b, x.outcome(b)
}

// RequestSent starts the route deadline once the request has been
// written whole.
//
// It also starts the current attempt's own deadlines — its hedge delay,
// its fixed per-try timeout — once per attempt (a hedge sending the same
// request later changes nothing).
func (x *exchange) RequestSent() {
	d, client := x.rt.timeout, false
	if t := x.req.Timeout(); t > 0 && (d <= 0 || t < d) {
		d, client = t, true // the client's own deadline (grpc-timeout) is shorter
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	now := time.Now()
	if d > 0 && x.routeAt.IsZero() && !x.expired { // a retry or hedge: it runs from the first send
		x.clientDeadline = client
		x.routeAt = now.Add(d)
	}
	if a := x.primary; a != nil && !a.done && !x.tryArmed {
		x.tryArmed = true
		if d, perTry := x.hedgeDelay(); d > 0 {
			x.hedgeAt, x.hedgeIsPerTry = now.Add(d), perTry
			if perTry {
				// Look now and then whether the attempt's tier went
				// suspect (another attempt there went silent): then
				// it gets its hedge at once.
				x.checkEvery = max(10*time.Millisecond, d/5)
				x.checkAt = now.Add(x.checkEvery)
			}
		}
		if d := x.rt.perTry; d > 0 { // fixed: cancels the attempt
			x.cancelAt = now.Add(d)
		}
	}
	x.armLocked()
}

// hedgeDelay returns how long the current attempt may wait before a hedge
// goes to another instance, 0 when this attempt gets no hedge, and whether
// that wait is the adaptive per-try timeout (an attempt that outlives it is
// slow and, if it loses, counts as a timeout) rather than a configured
// hedge's delay (a race to cut the tail; the loser is not blamed). x.mu
// held.
func (x *exchange) hedgeDelay() (time.Duration, bool) {
	if x.tries > x.rt.attempts || !x.req.Idempotent() || !x.up.Replayable() {
		return 0, false
	}
	var d time.Duration
	if h := x.rt.hedge; h != nil && x.tries == 1 {
		if hd, ok := h.delay(x.rt.latencies); ok {
			d = hd
			// An instance known to be much slower than the route's
			// percentile gets its hedge at once, not after the wait.
			if st, ok := x.bal.Stats(x.primary.pick.Instance.ID); ok && st.Latency > 2*hd {
				d = time.Nanosecond
			}
		}
	}
	if pt := x.rt.adaptivePerTry(); pt > 0 && (d == 0 || pt < d) {
		return pt, true
	}
	return d, false
}

// armLocked (re)arms the deadline timer for the earliest pending deadline.
// x.mu held.
func (x *exchange) armLocked() {
	var at time.Time
	for _, t := range [4]time.Time{x.routeAt, x.hedgeAt, x.cancelAt, x.checkAt} {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if at.IsZero() {
		return
	}
	d := time.Until(at)
	if x.timer == nil {
		if x.fireFn == nil {
			x.fireFn = x.fire
		}
		x.timer = time.AfterFunc(d, x.fireFn)
		return
	}
	x.timer.Reset(d)
}

// fire runs on the timer's goroutine when a deadline passed: the route's
// (every attempt still waiting for its head is cancelled), the current
// attempt's fixed per-try timeout (it is cancelled; the loop may retry) or
// its hedge delay (a hedge starts on another instance, outside the
// attempt's locality tier when there is one, and the first head wins).
func (x *exchange) fire() {
	x.mu.Lock()
	now := time.Now()
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	if due(x.routeAt) && !x.expired {
		x.expired = true
		x.hedgeAt, x.cancelAt = time.Time{}, time.Time{}
		for _, a := range [2]*attempt{x.primary, x.hedge} {
			if a != nil && !a.headed && !a.lost {
				a.timedOut = true
				a.cancel()
			}
		}
		x.mu.Unlock()
		return
	}
	a := x.primary
	if due(x.cancelAt) {
		x.cancelAt = time.Time{}
		if a != nil && !a.done {
			a.timedOut = true
			a.cancel()
		}
	}
	early := false
	if due(x.checkAt) {
		x.checkAt = time.Time{}
		if a != nil && !a.done && x.svc.isSuspect(a.pick.Tier) {
			early = true
		} else if next := now.Add(x.checkEvery); next.Before(x.hedgeAt) {
			x.checkAt = next
		}
	}
	if !(due(x.hedgeAt) || early) || a == nil || a.done || x.hedge != nil {
		x.armLocked()
		x.mu.Unlock()
		return
	}
	x.hedgeAt, x.checkAt = time.Time{}, time.Time{}
	a.late = x.hedgeIsPerTry || early // past its deadline, or waiting long in a suspect tier
	if a.late && !early {
		x.svc.suspectTier(a.pick.Tier, a.pick.Instance.ID)
	}
	if !x.up.Replayable() || !x.rt.hedgeAllowed(x.tries) {
		x.armLocked()
		x.mu.Unlock()
		return
	}
	if a.late {
		// An attempt that went silent says its cloud may have, and
		// health checking has not caught up yet.
		x.seen.tierOf = x.svc.tierOf
		x.seen.avoidTier(a.pick.Tier)
	}
	x.mu.Unlock()
	h, _, _ := x.pick()
	x.mu.Lock()
	if h == nil || a.done || x.expired || x.hedge != nil {
		x.armLocked()
		x.mu.Unlock()
		if h != nil {
			h.pick.Done(0, balancer.Neutral)
			if h.br != nil {
				h.br.DoneAt(h.tk, breaker.Canceled, 0, time.Now())
			}
		}
		return
	}
	x.tries++
	resend := x.tries - 1
	h.ctx, h.cancel = context.WithCancel(x.ctx)
	if x.tr != nil {
		h.ctx = x.tr.attempt(h.ctx, x, h, resend, true)
	}
	x.hedge = h
	x.hedgeRes = make(chan *attempt, 1)
	x.armLocked()
	x.mu.Unlock()
	x.rt.retriesMetric.Inc()
	x.g.m.hedges.Inc()
	x.g.hedgeWG.Add(1)
	go x.runHedge(a, h)
}

// runHedge sends hedge h while attempt a is still out, and hands the
// result to whichever of the two needs it.
func (x *exchange) runHedge(a, h *attempt) {
	defer x.g.hedgeWG.Done()
	h.t0 = time.Now()
	resp, err := x.up.Send(h.ctx, x.svc, h.pick.Instance)
	x.mu.Lock()
	h.done, h.resp, h.err = true, resp, err
	if resp != nil && !h.timedOut && !h.lost {
		h.headed = true
		if !a.headed && !a.done {
			a.lost = true
			a.cancel()
		}
	}
	if a.headed { // a won and cancelled h: its outcome is ours to report
		x.mu.Unlock()
		if resp != nil {
			resp.Discard()
		}
		h.resp = nil
		x.svc.report(h, Outcome{Class: ClassCanceled, Latency: time.Since(h.t0), Reached: true}, x.rt)
		h.cancel()
		return
	}
	x.mu.Unlock()
	x.hedgeRes <- h // the handler takes it from here
}

// outcome classifies how attempt a ended (Send returned).
func (x *exchange) outcome(a *attempt) Outcome {
	lat := time.Since(a.t0)
	if a.resp != nil && a.headed {
		return outcomeOfStatus(a.resp.Status(), lat)
	}
	if a.resp != nil { // a head that came too late: the deadline had passed
		a.resp.Discard()
		a.resp = nil
	}
	switch {
	case a.lost:
		return Outcome{Class: ClassCanceled, Latency: lat, Reached: true}
	case x.overrun.Load():
		return Outcome{Class: ClassCanceled, Fault: FaultPolicy, Latency: lat, Reached: true}
	case x.ctx.Err() != nil:
		return Outcome{Class: ClassCanceled, Fault: FaultClient, Latency: lat, Reached: true}
	}
	if _, err := x.up.ClientError(); err != nil {
		return Outcome{Class: ClassClientBody, Fault: FaultClient, Latency: lat, Reached: true}
	}
	x.mu.Lock()
	past := !x.routeAt.IsZero() && !time.Now().Before(x.routeAt)
	x.mu.Unlock()
	if a.timedOut || past {
		// A failure once the deadline passed is the deadline's: an
		// instance given the client's gRPC deadline resets the stream at
		// the same moment the gateway's timer fires.
		x.mu.Lock()
		if past {
			x.expired = true
		}
		// A deadline the client chose shorter than the route's says
		// nothing about the instance: else any client could eject
		// instances by asking for 1 ms.
		blame := FaultInstance
		if x.expired && x.clientDeadline {
			blame = FaultClient
		}
		x.mu.Unlock()
		return Outcome{Class: ClassTimeout, Fault: blame, Latency: lat, Reached: true}
	}
	var ae *AttemptError
	if errors.As(a.err, &ae) {
		o := Outcome{Class: ae.Class, Fault: FaultInstance, Latency: lat, Reached: ae.Class != ClassConnect}
		if ae.Class == ClassClientBody {
			o.Fault = FaultClient
		}
		return o
	}
	return Outcome{Class: ClassReset, Fault: FaultInstance, Latency: lat, Reached: true}
}

// retry reports attempt a and reports whether the loop should try again:
// the failure is one the route retries, attempts and budget are left, and
// the request can be sent again safely.
func (x *exchange) retry(a *attempt, o Outcome) bool {
	x.mu.Lock()
	again := !x.expired && x.tries <= x.rt.attempts && x.rt.retryOn.covers(o, x.req.GRPC()) &&
		(!o.Reached || x.req.Idempotent() || x.req.GRPC() && o.Status == 503 && x.rt.retryOn&retryUnavailable != 0) &&
		x.up.Replayable() && x.ctx.Err() == nil
	x.mu.Unlock()
	if !again {
		return false
	}
	if !x.rt.budget.AllowRetry() {
		x.note(noteBudgetSpent, o.Class.String())
		return false
	}
	if a.resp != nil {
		// Kept until the retry has an instance to go to: if there is
		// none, this answer is the one the client gets.
		x.held, x.heldOutcome = a, o
	} else {
		x.svc.report(a, o, x.rt)
		a.cancel()
		x.prev = &o
		x.final, x.hasFinal = o, true
	}
	x.mu.Lock()
	switch o.Class {
	case ClassConnect, ClassReset:
		x.seen.tierOf = x.svc.tierOf
		x.seen.failedIn(a.pick.Tier)
	case ClassTimeout:
		x.seen.tierOf = x.svc.tierOf
		x.seen.avoidTier(a.pick.Tier)
	}
	x.mu.Unlock()
	if d := resilience.Backoff(x.tries, x.rt.backoffBase, x.rt.backoffMax, rand.Float64()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-x.ctx.Done():
			t.Stop()
		}
	}
	return true
}

// forward streams the response of attempt a to the client and reports a.
func (x *exchange) forward(a *attempt, o Outcome) {
	x.mu.Lock()
	// The deadlines are over (the timer, if it fires, finds nothing due);
	// it is stopped when the request ends.
	x.routeAt, x.hedgeAt, x.cancelAt, x.checkAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	x.mu.Unlock()
	x.cloud = a.pick.Instance.Locality.Cloud
	x.status = a.resp.Status()
	f := forwarding{Idle: x.rt.idleTimeout}
	if fb := x.rt.fallback; fb != nil && fb.stale != nil && o.Class == ClassSuccess && x.req.Method() == "GET" {
		f.Stale = fb.stale
	}
	n, trailer, err := x.out.Forward(a.resp, f)
	o.Bytes = n
	if trailer != 0 && o.Fault == FaultNone {
		// A gRPC status in the trailers is the call's real outcome.
		t := outcomeOfStatus(trailer, o.Latency)
		o.Class, o.Fault = t.Class, t.Fault
	}
	switch {
	case err == nil:
	case x.overrun.Load():
		o.Class, o.Fault = ClassCanceled, FaultPolicy
		x.abort = true
	case errors.Is(err, errClientGone) || x.ctx.Err() != nil:
		o.Class, o.Fault = ClassCanceled, FaultClient
	case errors.Is(err, errUpstreamIdle):
		o.Class, o.Fault = ClassTimeout, FaultInstance
		x.abort = true
	default:
		o.Class, o.Fault = ClassReset, FaultInstance
		x.abort = true
	}
	x.svc.report(a, o, x.rt)
	x.final, x.hasFinal = o, true
	a.cancel()
}

// failOutcome answers a request whose last attempt got no response.
func (x *exchange) failOutcome(o Outcome) {
	switch o.Class {
	case ClassCanceled:
		if o.Fault == FaultPolicy && x.overrun.Load() {
			x.fail(504, "max duration")
			return
		}
		if o.Fault == FaultClient {
			x.status = 499 // client closed request (nginx's code); nothing is written
			x.out.Reply(499, "client closed request")
			return
		}
		x.fail(502, "upstream attempt abandoned")
	case ClassClientBody:
		x.clientFault = true
		st, _ := x.up.ClientError()
		if st == 0 {
			st = 400
		}
		x.status = st
		x.out.Reply(st, "bad request body")
	case ClassTimeout:
		if x.expired {
			x.fail(504, "route timeout")
		} else {
			x.fail(504, "upstream timeout")
		}
	case ClassConnect:
		x.fail(502, "upstream unreachable")
	case ClassProtocol:
		x.fail(502, "bad upstream response")
	default:
		x.fail(502, "upstream connection broken")
	}
}

// fail answers a request the gateway could not get answered: from the
// route's fallback if it has one that applies, else with the gateway's own
// reply.
func (x *exchange) fail(status int, why string) {
	if st, ok := x.fallback(); ok {
		x.status = st
		return
	}
	x.status = status
	x.note(noteReply, why)
	x.out.Reply(status, why)
}

// note tells the tracer, if any, about decision k.
func (x *exchange) note(k note, v string) {
	if x.tr != nil {
		x.tr.note(k, v)
	}
}

// fallback answers from the route's fallback: stale, then static.
func (x *exchange) fallback() (int, bool) {
	fb := x.rt.fallback
	if fb == nil {
		return 0, false
	}
	if fb.stale != nil && (x.req.Method() == "GET" || x.req.Method() == "HEAD") {
		if st, ok := x.out.Stale(fb.stale); ok {
			x.g.m.fallbacks.WithLabelValues(x.rt.name, "stale").Inc()
			x.note(noteFallback, "stale")
			return st, true
		}
	}
	if s := fb.static; s != nil {
		x.out.Static(staticReply{Status: s.Status, ContentType: s.ContentType, Body: s.Body})
		x.g.m.fallbacks.WithLabelValues(x.rt.name, "static").Inc()
		x.note(noteFallback, "static")
		return s.Status, true
	}
	return 0, false
}
