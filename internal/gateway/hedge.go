package gateway

import (
	"time"

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
		h.budget = old.budget // keep what was spent across reloads
	} else {
		h.budget = resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.1, MinPerSecond: 1})
	}
	return h
}

// delay returns how long to wait before hedging, from the route's
// latencies lat, and false when there is no basis yet (too few latencies
// measured).
func (h *hedge) delay(lat *resilience.Latencies) (time.Duration, bool) {
	if h.fixed > 0 {
		return h.fixed, true
	}
	return lat.Quantile(h.q, h.minSamples)
}
