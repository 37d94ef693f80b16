package gateway

import (
	"fmt"
	"strings"
	"time"

	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/request"
	"github.com/duohuo/duohuo/resilience"
)

// route is one compiled routing rule.
type route struct {
	name       string
	host       string // exact host, lower case; "" matches any
	hostSuffix string // ".example.com" for "*.example.com"
	pathPrefix string
	methods    []string // empty matches any
	svc        *service

	timeout       time.Duration
	attempts      int // retries after the first try
	perTry        time.Duration
	retryOn       retryOn
	backoffBase   time.Duration
	backoffMax    time.Duration
	budget        *resilience.Budget
	breaker       *breaker.Breaker // nil: no route breaker
	fallback      *fallback        // nil: no fallback
	hedge         *hedge           // nil: no hedging
	breakerCfg    config.Breaker
	series        *seriesCache
	retriesMetric interface{ Inc() }
}

// retryOn is the set of failures a route retries.
type retryOn uint8

const (
	retryConnectFailure retryOn = 1 << iota
	retryReset
	retryGatewayError
	retry5xx
	retryTimeout
)

func parseRetryOn(list []string) retryOn {
	var r retryOn
	for _, s := range list {
		switch s {
		case "connect_failure":
			r |= retryConnectFailure
		case "reset":
			r |= retryReset
		case "gateway_error":
			r |= retryGatewayError | retryConnectFailure
		case "5xx":
			r |= retry5xx | retryGatewayError | retryConnectFailure | retryReset
		case "timeout":
			r |= retryTimeout
		}
	}
	return r
}

func compileRoute(rc config.Route, svc *service, m *metrics, old *route) (*route, error) {
	rt := &route{
		name:        rc.Name,
		pathPrefix:  rc.Match.PathPrefix,
		methods:     rc.Match.Methods,
		svc:         svc,
		timeout:     time.Duration(rc.Timeout),
		attempts:    rc.Retry.Attempts,
		perTry:      time.Duration(rc.Retry.PerTryTimeout),
		retryOn:     parseRetryOn(rc.Retry.RetryOn),
		backoffBase: time.Duration(rc.Retry.Backoff.Base),
		backoffMax:  time.Duration(rc.Retry.Backoff.Max),
	}
	if rt.pathPrefix == "" {
		rt.pathPrefix = "/"
	}
	h := strings.ToLower(rc.Match.Host)
	if strings.HasPrefix(h, "*.") {
		rt.hostSuffix = h[1:]
	} else {
		rt.host = h
	}
	// A route that keeps its name and budget settings keeps its budget
	// window across reloads, so a reload cannot reset a retry storm's brake.
	if old != nil && old.budget != nil && old.svc == svc {
		rt.budget = old.budget
	} else {
		// In the file 0 means none; in resilience 0 means the default.
		ratio, floor := rc.Retry.Budget.Ratio, rc.Retry.Budget.MinPerSecond
		if ratio == 0 {
			ratio = -1
		}
		if floor == 0 {
			floor = -1
		}
		rt.budget = resilience.NewBudget(resilience.BudgetConfig{Ratio: ratio, MinPerSecond: floor})
	}
	var oldFB *fallback
	if old != nil {
		oldFB = old.fallback
	}
	rt.fallback = newFallback(rc.Fallback, oldFB)
	var oldHedge *hedge
	if old != nil {
		oldHedge = old.hedge
	}
	rt.hedge = newHedge(rc.Hedge, oldHedge)
	if rc.Breaker != nil && !rc.Breaker.Disabled {
		if old != nil && old.breaker != nil && old.breakerCfg == *rc.Breaker {
			rt.breaker = old.breaker // keep its state across reloads
		} else {
			b, err := breaker.New(breakerConfig(*rc.Breaker, rc.Name, m, "route"))
			if err != nil {
				return nil, fmt.Errorf("route %q: breaker: %w", rc.Name, err)
			}
			rt.breaker = b
		}
		rt.breakerCfg = *rc.Breaker
	}
	rt.series = &seriesCache{m: m, route: rc.Name, service: svc.name}
	rt.retriesMetric = m.retries.WithLabelValues(rc.Name, svc.name)
	return rt, nil
}

func (rt *route) matches(r request.View) bool {
	if rt.host != "" || rt.hostSuffix != "" {
		h := r.Host()
		if rt.host != "" && h != rt.host {
			return false
		}
		if rt.hostSuffix != "" && !strings.HasSuffix(h, rt.hostSuffix) {
			return false
		}
	}
	if !strings.HasPrefix(r.Path(), rt.pathPrefix) {
		return false
	}
	if len(rt.methods) > 0 {
		m := r.Method()
		for _, x := range rt.methods {
			if x == m {
				return true
			}
		}
		return false
	}
	return true
}

// table is an immutable routing snapshot.
type table struct {
	routes []*route // in file order; first match wins
}

func (t *table) match(r request.View) *route {
	for _, rt := range t.routes {
		if rt.matches(r) {
			return rt
		}
	}
	return nil
}
