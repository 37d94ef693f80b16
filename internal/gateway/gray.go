package gateway

import (
	"errors"
	"net/http"
	"reflect"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/internal/config"
)

// lanes are the per-subset balancers of one gray route of a service, built
// for one Router: bals[i] picks among the instances of Router.Subsets()[i].
type lanes struct {
	router *gray.Router
	bals   []*balancer.Balancer
	// series caches each lane's per-subset metric series, filled on first
	// use, so that a request does not hash its labels (WithLabelValues)
	// twice on the hot path.
	series []atomic.Pointer[laneSeries]
}

// laneSeries are the duohuo_gray_* series of one route and subset.
type laneSeries struct {
	codes    [len(codeClasses)]prometheus.Counter
	duration prometheus.Observer
}

// seriesFor returns the series of lane i (subset) of route, creating them on
// first use. Concurrent first uses may both create them: the vectors hand
// out the same series, so either copy is right.
func (ln *lanes) seriesFor(m *grayMetrics, route string, i int, subset string) *laneSeries {
	if ls := ln.series[i].Load(); ls != nil {
		return ls
	}
	ls := &laneSeries{duration: m.duration.WithLabelValues(route, subset)}
	for c, cl := range codeClasses {
		ls.codes[c] = m.requests.WithLabelValues(route, subset, cl)
	}
	ln.series[i].Store(ls)
	return ls
}

// syncLanes rebuilds the lanes of every gray route of the service from the
// endpoints just given to the service's balancer. Balancers are reused while
// a route keeps its Router, so their latency statistics survive.
func (s *service) syncLanes(eps []balancer.Endpoint) {
	names := s.routeNames.Load()
	if s.grayStore == nil || names == nil {
		return
	}
	s.lanesMu.Lock()
	defer s.lanesMu.Unlock()
	s.eps.Store(&eps)
	old := s.lanes.Load()
	next := map[string]*lanes{}
	for _, name := range *names {
		r := s.grayStore.Router(name)
		if r == nil {
			continue
		}
		if ln := s.buildLanes(name, r, (*old)[name], eps); ln != nil {
			next[name] = ln
		}
	}
	s.lanes.Store(&next)
}

// lanesFor returns the lanes of route name built for r, building them on
// the spot when a policy change has not reached the service's loop yet: the
// first request after an apply or a rollback already follows it.
func (s *service) lanesFor(name string, r *gray.Router) *lanes {
	if ln := (*s.lanes.Load())[name]; ln != nil && ln.router == r {
		return ln
	}
	s.lanesMu.Lock()
	defer s.lanesMu.Unlock()
	cur := s.lanes.Load()
	if ln := (*cur)[name]; ln != nil && ln.router == r {
		return ln
	}
	eps := s.eps.Load()
	if eps == nil {
		return nil
	}
	ln := s.buildLanes(name, r, (*cur)[name], *eps)
	if ln == nil {
		return nil
	}
	next := make(map[string]*lanes, len(*cur)+1)
	for k, v := range *cur {
		next[k] = v
	}
	next[name] = ln
	s.lanes.Store(&next)
	return ln
}

// buildLanes returns the lanes of route name for r over eps, reusing old's
// balancers when old was built for r. Callers hold lanesMu.
func (s *service) buildLanes(name string, r *gray.Router, old *lanes, eps []balancer.Endpoint) *lanes {
	ln := old
	if ln == nil || ln.router != r {
		ln = &lanes{router: r, series: make([]atomic.Pointer[laneSeries], len(r.Subsets()))}
		cfg := laneBalancerConfig(s.balCfg)
		for range r.Subsets() {
			b, err := balancer.New(cfg)
			if err != nil {
				s.log.Warn("gray lane balancer", "route", name, "err", err)
				return nil
			}
			ln.bals = append(ln.bals, b)
		}
	}
	ins := make([]discovery.Instance, len(eps))
	byID := make(map[string]balancer.Endpoint, len(eps))
	for i, ep := range eps {
		ins[i] = ep.Instance
		byID[ep.Instance.ID] = ep
	}
	for i, part := range r.Partition(ins) {
		sub := make([]balancer.Endpoint, 0, len(part))
		for _, in := range part {
			sub = append(sub, byID[in.ID])
		}
		if err := ln.bals[i].Update(sub); err != nil {
			s.log.Warn("gray lane update refused", "route", name, "subset", r.Subsets()[i], "err", err)
		}
	}
	return ln
}

// requestKick asks the service's loop to sync soon.
func (s *service) requestKick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// newPropagator builds the color propagator from the file's gray section.
func newPropagator(c config.Gray) (*color.Propagator, error) {
	cc, err := colorConfig(c)
	if err != nil {
		return nil, err
	}
	return color.New(cc)
}

// grayMetrics are the per route × subset series a canary is compared with
// its baseline by.
type grayMetrics struct {
	requests  *prometheus.CounterVec   // route, subset, code
	duration  *prometheus.HistogramVec // route, subset
	fallbacks *prometheus.CounterVec   // route, from
	stripped  prometheus.Counter
}

func newGrayMetrics(reg prometheus.Registerer) *grayMetrics {
	m := &grayMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_gray_requests_total",
			Help: "Requests of gray routes by route, subset (lane) that served them and status class.",
		}, []string{"route", "subset", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "duohuo_gray_request_duration_seconds",
			Help:    "Latency of gray routes by route and subset, to compare a canary with its baseline.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "subset"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_gray_fallbacks_total",
			Help: "Requests whose lane had no healthy instance and fell back to the baseline, by route and the lane they fell from.",
		}, []string{"route", "from"}),
		stripped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_gray_colors_stripped_total",
			Help: "Incoming colors removed because the peer was not trusted and had no valid token.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.fallbacks, m.stripped)
	return m
}

// applyGray brings the gray store in step with the file: a route whose gray
// section changed gets it (as a change by "config-file"); a route whose
// section did not change keeps what the admin API may have set since.
func (g *Gateway) applyGray(cfg *config.Config) error {
	prev := map[string]*config.GrayPolicy{}
	if g.cfg != nil {
		for i := range g.cfg.Routes {
			prev[g.cfg.Routes[i].Name] = g.cfg.Routes[i].Gray
		}
	}
	changed := map[string]gray.Policy{}
	inNew := map[string]bool{}
	for i := range cfg.Routes {
		inNew[cfg.Routes[i].Name] = true
	}
	for name, old := range prev { // a route gone from the file loses its policy
		if old != nil && !inNew[name] {
			if _, err := g.gray.Delete(name, 0, gray.Meta{Who: "config-file"}); err != nil && !errors.Is(err, gray.ErrNoRoute) {
				return err
			}
		}
	}
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		old, had := prev[rc.Name]
		switch {
		case rc.Gray == nil && had && old != nil:
			if _, err := g.gray.Delete(rc.Name, 0, gray.Meta{Who: "config-file"}); err != nil && !errors.Is(err, gray.ErrNoRoute) {
				return err
			}
		case rc.Gray != nil && (!had || old == nil || !grayEqual(old, rc.Gray)):
			changed[rc.Name] = rc.Gray.Policy()
		}
	}
	if len(changed) == 0 {
		return nil
	}
	_, err := g.gray.ApplyAll(changed, gray.Meta{Who: "config-file"})
	return err
}

func grayEqual(a, b *config.GrayPolicy) bool { return reflect.DeepEqual(a, b) }

// GrayHandler serves the gray admin API (mounted on /v1/gray): the live
// policy of each route with its revision and history, apply, rollback, and
// the dry run "where would this request go". See package gray.
func (g *Gateway) GrayHandler() http.Handler {
	return gray.NewHandler(g.gray, gray.HandlerConfig{Routes: g.routeNames})
}

// GrayStore returns the store of the gray policies, for what replicates
// them between gateways (internal/graysync).
func (g *Gateway) GrayStore() *gray.Store { return g.gray }

// RouteNames returns the names of the live routes, in file order.
func (g *Gateway) RouteNames() []string { return g.routeNames() }

// routeNames returns the names of the live routes.
func (g *Gateway) routeNames() []string {
	t := g.table.Load()
	if t == nil {
		return nil
	}
	names := make([]string, 0, len(t.routes))
	for _, rt := range t.routes {
		names = append(names, rt.name)
	}
	return names
}
