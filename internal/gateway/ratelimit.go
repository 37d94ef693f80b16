package gateway

// Local flow control (docs/flow-control.md): the file's rate_limits,
// compiled into limiters of package ratelimit and applied by the exchange
// core after routing and before the attempts. This file is part of the
// core: it reads the request through the Request seam only.

import (
	"context"
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/ratelimit"
)

// limitRule is one compiled rate_limits rule. A reload keeps the rule, its
// limiters' state included, while its configuration does not change.
type limitRule struct {
	cfg     config.RateLimit
	name    string
	key     string // config.RateKey.Kind; "" for one limit
	keyName string
	queue   bool
	maxWait time.Duration

	// One of the three kinds, either alone or keyed.
	bucket   *ratelimit.Bucket
	buckets  *ratelimit.Keyed[*ratelimit.Bucket]
	window   *ratelimit.Window
	windows  *ratelimit.Keyed[*ratelimit.Window]
	conc     *ratelimit.Concurrency
	concs    *ratelimit.Keyed[*ratelimit.Concurrency]
	isWindow bool
	isConc   bool

	global *globalLimit // with rate: a limit of all the sites together

	allowed, rejected, queued, timedOut prometheus.Counter
}

// GlobalCounters gives the shared counters of global rate limits: what
// each site admitted in each one-second window (internal/globallimit
// implements it over the replica).
type GlobalCounters interface {
	Counter(name string, flush time.Duration) GlobalCounter
}

// GlobalCounter is one global limit's count at this site and what the
// others said. Safe for concurrent use.
type GlobalCounter interface {
	// Add counts n requests admitted here in window (Unix seconds).
	Add(window, n int64)
	// Own returns what this site admitted in window.
	Own(window int64) int64
	// Others returns what the other sites admitted in window as last
	// heard, and how many of them were heard from in this window or the
	// one before.
	Others(window int64) (n int64, sites int)
}

// globalLimit admits a request while the sites together, as this site
// knows them, admitted fewer than the rate in the current second; while
// it hears from fewer than sites-1 others, only its share.
type globalLimit struct {
	c     GlobalCounter // nil: always cut off
	rate  float64       // per second, all the sites together
	sites int
	share float64 // of rate, while cut off
	now   func() time.Time

	mu  sync.Mutex                    // makes a decision and its count one step
	own struct{ window, count int64 } // without c
}

// admit decides for one request and counts it when admitted; wait is the
// time to the next window.
func (g *globalLimit) admit() (ok bool, wait time.Duration) {
	now := g.now()
	w := now.Unix()
	g.mu.Lock()
	defer g.mu.Unlock()
	var own, others int64
	heard := 0
	if g.c != nil {
		own = g.c.Own(w)
		others, heard = g.c.Others(w)
	} else if g.own.window == w {
		own = g.own.count
	}
	limit := g.rate
	if heard < g.sites-1 {
		limit, others = g.rate*g.share, 0
	}
	if float64(own+others+1) > limit {
		return false, time.Unix(w+1, 0).Sub(now)
	}
	if g.c != nil {
		g.c.Add(w, 1)
	} else {
		if g.own.window != w {
			g.own.window, g.own.count = w, 0
		}
		g.own.count++
	}
	return true, 0
}

// The results of duohuo_ratelimit_decisions_total.
const (
	limitAllowed  = "allowed"  // admitted at once
	limitRejected = "rejected" // over the limit, action reject
	limitQueued   = "queued"   // admitted after a wait (action queue)
	limitTimeout  = "timeout"  // over the limit for longer than max_wait (action queue)
)

// newLimitRule compiles c; old, when not nil, is the running rule of the
// same name, kept as it is if c did not change.
func newLimitRule(c config.RateLimit, m *metrics, old *limitRule, gc GlobalCounters) *limitRule {
	if old != nil && reflect.DeepEqual(old.cfg, c) {
		return old
	}
	r := &limitRule{cfg: c, name: c.Name, key: c.Key.Kind, keyName: c.Key.Name, queue: c.Action == "queue", maxWait: time.Duration(c.MaxWait)}
	keyed := r.key != ""
	switch {
	case c.Global != nil:
		share := c.Global.Share.Fraction()
		if share == 0 {
			share = 1 / float64(c.Global.Sites)
		}
		r.global = &globalLimit{rate: c.Rate.PerSecond(), sites: c.Global.Sites, share: share, now: time.Now}
		if gc != nil {
			r.global.c = gc.Counter(c.Name, time.Duration(c.Global.Flush))
		}
	case c.Rate.Requests > 0:
		bc := ratelimit.BucketConfig{Rate: c.Rate.PerSecond(), Burst: c.Burst, WarmUp: time.Duration(c.WarmUp), ColdFactor: c.ColdFactor}
		if bc.Burst == 0 {
			bc.Burst = max(1, int(math.Ceil(bc.Rate))) // one second's worth
		}
		if keyed {
			r.buckets = ratelimit.NewKeyed(c.MaxKeys, func() *ratelimit.Bucket { return ratelimit.NewBucket(bc) })
		} else {
			r.bucket = ratelimit.NewBucket(bc)
		}
	case c.Window > 0:
		r.isWindow = true
		wc := ratelimit.WindowConfig{Window: time.Duration(c.Window), Requests: c.Requests}
		if keyed {
			r.windows = ratelimit.NewKeyed(c.MaxKeys, func() *ratelimit.Window { return ratelimit.NewWindow(wc) })
		} else {
			r.window = ratelimit.NewWindow(wc)
		}
	default:
		r.isConc = true
		if keyed {
			n := c.Concurrency
			r.concs = ratelimit.NewKeyed(c.MaxKeys, func() *ratelimit.Concurrency { return ratelimit.NewConcurrency(n) })
		} else {
			r.conc = ratelimit.NewConcurrency(c.Concurrency)
		}
	}
	r.allowed = m.ratelimit.WithLabelValues(c.Name, limitAllowed)
	r.rejected = m.ratelimit.WithLabelValues(c.Name, limitRejected)
	r.queued = m.ratelimit.WithLabelValues(c.Name, limitQueued)
	r.timedOut = m.ratelimit.WithLabelValues(c.Name, limitTimeout)
	return r
}

// compileLimits compiles the file's rules, keeping the unchanged ones of
// the running table t (nil at the first apply).
func compileLimits(cfg []config.RateLimit, m *metrics, t *table, gc GlobalCounters) []*limitRule {
	old := map[string]*limitRule{}
	if t != nil {
		for _, r := range t.limits {
			old[r.name] = r
		}
	}
	out := make([]*limitRule, 0, len(cfg))
	for _, c := range cfg {
		out = append(out, newLimitRule(c, m, old[c.Name], gc))
	}
	return out
}

// limitsFor returns the rules, in file order, that apply to route rc.
func limitsFor(rules []*limitRule, rc config.Route) []*limitRule {
	var out []*limitRule
	for _, r := range rules {
		c := &r.cfg
		if len(c.Routes) == 0 && len(c.Services) == 0 || contains(c.Routes, rc.Name) || contains(c.Services, rc.Service) {
			out = append(out, r)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// keyOf returns the request's key under r.
func (x *exchange) keyOf(r *limitRule) string {
	switch r.key {
	case "header":
		return x.req.Header(r.keyName)
	case "cookie":
		return x.req.Cookie(r.keyName)
	case "query":
		return x.req.Query(r.keyName)
	case "client_ip":
		// The engine set X-Real-IP to the peer's address unless a
		// trusted proxy of the listener set it (listener_policy.go).
		if ip := x.req.Header(headerRealIP); ip != "" {
			return ip
		}
		return x.req.RemoteAddr().String()
	case "gray_lane":
		return x.gd.Subset
	}
	return ""
}

// slot is a concurrency slot an exchange holds until it ends.
type slot struct {
	c *ratelimit.Concurrency
	t ratelimit.Ticket
}

// admit applies the route's rules in file order. It returns false when the
// request was answered (429, or 499 when the client left while queued);
// then, and when the exchange ends, the slots it holds are given back by
// release. A request refused by one rule has used the permits of the rules
// before it.
func (x *exchange) admit() bool {
	for _, r := range x.rt.limits {
		var wait time.Duration
		var ok bool
		if r.isConc {
			ok = x.admitConc(r)
			if !ok && x.status == 499 {
				return false
			}
		} else if r.global != nil {
			if ok, wait = r.global.admit(); ok {
				r.allowed.Inc()
			} else {
				r.rejected.Inc()
			}
		} else {
			maxWait := time.Duration(0)
			if r.queue {
				maxWait = r.maxWait
			}
			if r.isWindow {
				l := r.window
				if r.windows != nil {
					l = r.windows.Get(x.keyOf(r))
				}
				wait, ok = l.Reserve(maxWait)
			} else {
				l := r.bucket
				if r.buckets != nil {
					l = r.buckets.Get(x.keyOf(r))
				}
				wait, ok = l.Reserve(maxWait)
			}
			switch {
			case ok && wait == 0:
				r.allowed.Inc()
			case ok:
				r.queued.Inc()
				if !x.sleep(wait) {
					x.status = 499
					x.out.Reply(499, "client gone")
					return false
				}
			case r.queue:
				r.timedOut.Inc()
			default:
				r.rejected.Inc()
			}
		}
		if !ok {
			x.status = 429
			x.out.SetHeader("Retry-After", retryAfter(wait))
			x.out.Reply(429, "rate limited: "+r.name)
			return false
		}
	}
	return true
}

// admitConc takes a slot of r's limiter for the request.
func (x *exchange) admitConc(r *limitRule) bool {
	l := r.conc
	if r.concs != nil {
		l = r.concs.Get(x.keyOf(r))
	}
	t, err := l.Allow()
	if err == nil {
		r.allowed.Inc()
		x.hold(l, t)
		return true
	}
	if !r.queue {
		r.rejected.Inc()
		return false
	}
	ctx, cancel := context.WithTimeout(x.ctx, r.maxWait)
	t, err = l.Wait(ctx)
	cancel()
	switch {
	case err == nil:
		r.queued.Inc()
		x.hold(l, t)
		return true
	case x.ctx.Err() != nil:
		x.status = 499
		x.out.Reply(499, "client gone")
	default:
		r.timedOut.Inc()
	}
	return false
}

func (x *exchange) hold(c *ratelimit.Concurrency, t ratelimit.Ticket) {
	if x.nslots < len(x.slots) {
		x.slots[x.nslots] = slot{c, t}
		x.nslots++
		return
	}
	x.moreSlots = append(x.moreSlots, slot{c, t})
}

// release gives back the concurrency slots the exchange holds.
func (x *exchange) release() {
	for i := range x.nslots {
		x.slots[i].c.Done(x.slots[i].t)
		x.slots[i] = slot{}
	}
	x.nslots = 0
	for _, s := range x.moreSlots {
		s.c.Done(s.t)
	}
	x.moreSlots = nil
}

// sleep waits d for a queued request; false when the client left first.
func (x *exchange) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.ctx.Done():
		return false
	}
}

// retryAfter is the Retry-After value (RFC 9110, section 10.2.3) for a
// wait: whole seconds, rounded up, at least 1 (a concurrency limit does not
// know when a slot frees: 1), at most a day.
func retryAfter(wait time.Duration) string {
	s := int64(math.Ceil(wait.Seconds()))
	return strconv.FormatInt(min(max(s, 1), 86400), 10)
}
