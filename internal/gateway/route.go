package gateway

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/request"
	"github.com/duohuo/duohuo/resilience"
)

// route is one compiled routing rule.
type route struct {
	name       string
	host       string      // exact host, lower case; "" matches any
	hostSuffix string      // ".example.com" for "*.example.com"
	pathPrefix string      // matched on whole segments; no trailing slash but in "/"
	methods    []string    // empty matches any
	escaped    escapedPath // what to do with a path that spells /, \ or . escaped
	upgrades   []string    // Upgrade tokens tunnelled; never h2c
	allowTrace bool        // TRACE is forwarded (hop.go)
	bufferMax  int         // request bodies up to this size are read before the first attempt; 0: none
	svc        *service

	timeout       time.Duration // to the response head, from the request's end; 0: none
	maxDuration   time.Duration // of the whole exchange, body included; 0: none
	idleTimeout   time.Duration // of a response body; 0: none
	attempts      int           // retries after the first try
	perTry        time.Duration // fixed per-try timeout (cancels); 0: adaptive or none
	adaptive      bool          // per-try timeout derived from latencies
	latencies     *resilience.Latencies
	perTryCache   atomic.Int64 // adaptive per-try timeout, ns, recomputed every 100ms
	perTryStamp   atomic.Int64 // when perTryCache was computed, unix ns
	retryOn       retryOn
	statusWait    time.Duration // for a gRPC status after an empty head (retry on unavailable)
	backoffBase   time.Duration
	backoffMax    time.Duration
	budget        *resilience.Budget
	budgetCfg     config.Budget    // what budget was made from
	breaker       *breaker.Breaker // nil: no route breaker
	fallback      *fallback        // nil: no fallback
	hedge         *hedge           // nil: no hedging
	breakerCfg    config.Breaker
	series        *seriesCache
	retriesMetric interface{ Inc() }
	limits        []*limitRule // rate_limits that apply, in file order
}

// retryOn is the set of failures a route retries.
type retryOn uint8

const (
	retryConnectFailure retryOn = 1 << iota
	retryReset
	retryGatewayError
	retry5xx
	retryTimeout
	retryUnavailable // gRPC UNAVAILABLE in a trailers-only answer, any method
)

// covers reports whether the route retries outcome o.
func (r retryOn) covers(o Outcome, grpc bool) bool {
	switch o.Class {
	case ClassConnect:
		return r&retryConnectFailure != 0
	case ClassReset, ClassProtocol:
		return r&retryReset != 0
	case ClassTimeout:
		return r&retryTimeout != 0
	case ClassGatewayStatus:
		if grpc && o.Status == 503 && r&retryUnavailable != 0 {
			return true
		}
		return r&retryGatewayError != 0
	case ClassServerError:
		return r&retry5xx != 0
	}
	return false
}

// The adaptive per-try timeout: max(adaptiveFloor, adaptiveFactor × the
// route's p99 time to response head over the last 10-20 s), capped at the
// route timeout, or adaptiveCold while fewer than adaptiveMinSamples heads
// were measured. Four times the p99 leaves room for the ordinary tail (a
// try that slow is rarer than 1 in 100 by definition) while a silent
// instance is left in well under a second.
const (
	adaptiveFloor      = 250 * time.Millisecond
	adaptiveFactor     = 4
	adaptiveCold       = time.Second
	adaptiveMinSamples = 20
	adaptiveRefresh    = int64(100 * time.Millisecond)
)

// adaptivePerTry returns the route's adaptive per-try timeout, 0 when the
// route does not use one. Safe for concurrent use; allocation-free.
func (rt *route) adaptivePerTry() time.Duration {
	if !rt.adaptive {
		return 0
	}
	now := time.Now().UnixNano()
	if st := rt.perTryStamp.Load(); st != 0 && now-st < adaptiveRefresh {
		return time.Duration(rt.perTryCache.Load())
	}
	d := adaptiveCold
	if p99, ok := rt.latencies.Quantile(0.99, adaptiveMinSamples); ok {
		d = max(adaptiveFloor, adaptiveFactor*p99)
	}
	if rt.timeout > 0 && d > rt.timeout {
		d = rt.timeout
	}
	rt.perTryCache.Store(int64(d))
	rt.perTryStamp.Store(now)
	return d
}

// hedgeAllowed reports whether a hedge may start as attempt number tries+1:
// attempts are left, and the budget allows it (the hedge budget for a
// configured hedge's first, the retry budget otherwise).
func (rt *route) hedgeAllowed(tries int) bool {
	if tries > rt.attempts {
		return false
	}
	if rt.hedge != nil && tries == 1 {
		return rt.hedge.budget.AllowRetry()
	}
	return rt.budget.AllowRetry()
}

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
		case "unavailable":
			r |= retryUnavailable
		}
	}
	return r
}

func compileRoute(rc config.Route, svc *service, m *metrics, old *route) (*route, error) {
	rt := &route{
		name:        rc.Name,
		allowTrace:  rc.AllowTrace,
		bufferMax:   int(rc.RequestBuffering.MaxBytes),
		svc:         svc,
		timeout:     time.Duration(rc.Timeout),
		maxDuration: time.Duration(rc.MaxDuration),
		idleTimeout: time.Duration(rc.StreamIdleTimeout),
		attempts:    rc.Retry.Attempts,
		perTry:      time.Duration(rc.Retry.PerTryTimeout.Fixed),
		adaptive:    rc.Retry.PerTryTimeout.Auto,
		retryOn:     parseRetryOn(rc.Retry.RetryOn),
		statusWait:  time.Duration(rc.Retry.StatusWait),
		backoffBase: time.Duration(rc.Retry.Backoff.Base),
		backoffMax:  time.Duration(rc.Retry.Backoff.Max),
	}
	rt.setMatch(rc.Match)
	rt.escaped = parseEscapedPath(rc.EscapedPath)
	for _, u := range rc.Upgrades {
		if !strings.EqualFold(u, "h2c") { // config.Load refuses it; a hand-built Config may not
			rt.upgrades = append(rt.upgrades, u)
		}
	}
	// A route that keeps its name and budget settings keeps its budget
	// window across reloads, so a reload cannot reset a retry storm's brake.
	rt.budgetCfg = rc.Retry.Budget
	if old != nil && old.budget != nil && old.svc == svc && old.budgetCfg == rc.Retry.Budget {
		rt.budget = old.budget
	} else {
		rt.budget = resilience.NewBudget(budgetConfig(rc.Retry.Budget))
	}
	// Latencies measured survive a reload of the route, so that the
	// adaptive per-try timeout and hedging do not start cold.
	if old != nil && old.latencies != nil && old.svc == svc {
		rt.latencies = old.latencies
	} else {
		rt.latencies = resilience.NewLatencies(10*time.Second, nil)
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
			b, err := breaker.New(m.breakerHooks(breakerConfig(*rc.Breaker), rc.Name, "route"))
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

// setMatch sets the route's host, host suffix, path prefix and methods
// from m, in the forms the routing index and matches compare.
func (rt *route) setMatch(m config.Match) {
	rt.pathPrefix = m.PathPrefix
	if rt.pathPrefix == "" {
		rt.pathPrefix = "/"
	}
	if len(rt.pathPrefix) > 1 {
		rt.pathPrefix = strings.TrimSuffix(rt.pathPrefix, "/")
	}
	rt.methods = m.Methods
	h := strings.ToLower(m.Host)
	if strings.HasPrefix(h, "*.") {
		rt.hostSuffix = h[1:]
	} else {
		rt.host = h
	}
}

// matches reports whether the route takes r: the rule the routing index
// (routeindex.go) applies to every route at once. Requests are routed
// through the index; the tests compare it with this, route by route.
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
	return segmentPrefix(r.Path(), rt.pathPrefix) && rt.takesMethod(r.Method())
}

// takesMethod reports whether the route's methods take m: any method when
// the route lists none.
func (rt *route) takesMethod(m string) bool {
	if len(rt.methods) == 0 {
		return true
	}
	for _, x := range rt.methods {
		if x == m {
			return true
		}
	}
	return false
}

// segmentPrefix reports whether path starts with prefix on a segment
// boundary, as the Kubernetes Gateway API's PathPrefix matches: "/public"
// takes "/public" and "/public/x", never "/publicity". prefix has no
// trailing slash unless it is "/".
func segmentPrefix(path, prefix string) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/") // not "*" (OPTIONS *)
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// table is an immutable routing snapshot.
type table struct {
	routes []*route     // in file order; first match wins
	limits []*limitRule // every rate_limits rule, in file order
	index  *routeIndex  // of routes, built with the table (newRouteIndex)
}

// match returns the first route in file order that takes r, nil when none
// does, through the index (routeindex.go). Safe for concurrent use;
// allocation-free.
func (t *table) match(r request.View) *route {
	return t.index.match(r)
}
