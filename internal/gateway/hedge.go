package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/resilience"
)

// hedge is a route's hedging setting ("The Tail at Scale"): when the first
// try of a GET or HEAD has no response headers after the route's latency
// percentile, a second try goes to another instance and the first answer
// wins; the other is cancelled.
type hedge struct {
	q          float64
	fixed      time.Duration // used instead of the percentile when set
	minSamples int64
	lat        *resilience.Latencies
	// budget caps hedges at 10% of requests (plus 1/s), apart from the
	// retry budget: hedges must not use up what a failover needs for
	// retries.
	budget *resilience.Budget
}

func newHedge(c *config.Hedge, old *hedge) *hedge {
	if c == nil {
		return nil
	}
	h := &hedge{q: c.Percentile.Fraction(), fixed: time.Duration(c.Delay), minSamples: int64(c.MinSamples)}
	if old != nil {
		h.lat, h.budget = old.lat, old.budget // keep what was measured across reloads
	} else {
		h.lat = resilience.NewLatencies(10*time.Second, nil)
		h.budget = resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.1, MinPerSecond: 1})
	}
	return h
}

// delay returns how long to wait before hedging, and false when there is
// no basis yet (too few latencies measured).
func (h *hedge) delay() (time.Duration, bool) {
	if h.fixed > 0 {
		return h.fixed, true
	}
	return h.lat.Quantile(h.q, h.minSamples)
}

// try is one in-flight attempt of a hedged request.
type try struct {
	bal    *balancer.Balancer
	p      balancer.Pick
	br     *breaker.Breaker
	tk     breaker.Ticket
	ctx    context.Context
	cancel context.CancelFunc
	t0     time.Time
	resp   *http.Response
	err    error
}

// hedgedRoundTrip sends the primary try and, if it has not answered after
// the hedge delay, a second try to another instance (second builds it, or
// returns nil when no instance, breaker or budget allows one). It returns
// the try whose answer is used: the first that got response headers, or the
// last to fail. The other try is cancelled and reported to its balancer and
// breaker as neither success nor failure; its response is closed by a
// goroutine the gateway waits for on Shutdown.
func (g *Gateway) hedgedRoundTrip(tr http.RoundTripper, primary *try, out *http.Request, delay time.Duration, second func() (*try, *http.Request)) *try {
	results := make(chan *try, 2)
	send := func(t *try, req *http.Request) {
		t.resp, t.err = tr.RoundTrip(req)
		results <- t
	}
	go send(primary, out)
	timer := time.NewTimer(delay)
	select {
	case t := <-results:
		timer.Stop()
		return t
	case <-timer.C:
	}
	h, hout := second()
	if h == nil {
		return <-results
	}
	g.m.hedges.Inc()
	go send(h, hout)
	first := <-results
	if first.err != nil {
		// A failure does not win while the other may still answer.
		other := <-results
		g.abandon(first)
		return other
	}
	loser := primary
	if first == primary {
		loser = h
	}
	loser.cancel()
	g.hedgeWG.Add(1)
	go func() {
		defer g.hedgeWG.Done()
		g.abandon(<-results)
	}()
	return first
}

// abandon closes a try that lost a race and reports it as neutral.
func (g *Gateway) abandon(t *try) {
	t.cancel()
	if t.resp != nil {
		t.resp.Body.Close()
	}
	now := time.Now()
	// The loser's real latency is unknown but at least what it took so
	// far; never report less than the balancer already believes, or a slow
	// instance whose tries keep losing would look fast.
	lat := now.Sub(t.t0)
	if st, ok := t.bal.Stats(t.p.Instance.ID); ok && st.Latency > lat {
		lat = st.Latency
	}
	t.p.Done(lat, true)
	if t.br != nil {
		t.br.DoneAt(t.tk, breaker.Canceled, now.Sub(t.t0), now)
	}
}
