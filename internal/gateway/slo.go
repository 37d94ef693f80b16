package gateway

// The gateway's SLIs (package slo): per route and cloud of the instance
// that answered, fed once per request from its final answer (exchange
// record), kept across reloads, evaluated per service and cloud when
// /v1/health or /metrics asks (docs/observability.md).

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/cowmap"
	"github.com/duohuo/duohuo/internal/httpjson"
	"github.com/duohuo/duohuo/slo"
)

// sloKey names the SLIs of one route, service and cloud.
type sloKey struct{ route, service, cloud string }

// sloSeries are the SLIs of one route × cloud. The counters are replaced
// when the period changes, the histogram when the score's window does.
type sloSeries struct {
	key   sloKey
	avail atomic.Pointer[slo.Counter]   // good: answered below 500
	lat   atomic.Pointer[slo.Counter]   // good: answered within the threshold
	hist  atomic.Pointer[slo.Histogram] // latencies, for the P99 per cloud
}

// sloSettings is the running slo section, compiled.
type sloSettings struct {
	avail, lat  slo.Objective
	threshold   time.Duration // 0: no latency SLI
	period      time.Duration
	window      time.Duration
	score       slo.ScoreConfig
	minRequests uint64
}

// sloSet holds every route's SLIs, from the first request of a route and
// cloud on; a reload keeps them (a route keeps its name).
type sloSet struct {
	cfg    atomic.Pointer[sloSettings] // nil: no slo section
	series cowmap.Map[sloKey, *sloSeries]
	mu     sync.Mutex // serialises configure with the creation of series
}

// configure applies the slo section (nil: off) and the routing table t
// (nil: keep every series). Series whose period or window changed get new
// counters or histograms: their history restarts. The series of a route
// that t no longer has, or that now goes to another service, are dropped.
func (s *sloSet) configure(c *config.SLO, t *table) {
	if t != nil {
		live := map[[2]string]bool{}
		for _, rt := range t.routes {
			live[[2]string{rt.name, rt.svc.name}] = true
		}
		s.series.DeleteFunc(func(k sloKey, _ *sloSeries) bool { return !live[[2]string{k.route, k.service}] })
	}
	if c == nil {
		s.cfg.Store(nil)
		return
	}
	st := &sloSettings{
		avail:       c.Availability(),
		lat:         c.Latency(),
		threshold:   time.Duration(c.LatencyThreshold),
		period:      time.Duration(c.Period),
		window:      time.Duration(c.Score.Window),
		score:       c.ScoreConfig(),
		minRequests: uint64(c.Score.MinRequests),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cfg.Swap(st)
	if old == nil || old.period != st.period || old.window != st.window {
		for _, ss := range s.series.All() {
			if old == nil || old.period != st.period {
				ss.avail.Store(slo.NewCounter(st.period))
				ss.lat.Store(slo.NewCounter(st.period))
			}
			if old == nil || old.window != st.window {
				ss.hist.Store(slo.NewHistogram(st.window))
			}
		}
	}
}

// get returns the SLIs of k, nil when the SLO section is off.
func (s *sloSet) get(k sloKey) (*sloSeries, time.Duration) {
	st := s.cfg.Load()
	if st == nil {
		return nil, 0
	}
	ss := s.series.LoadOrMake(k, func() *sloSeries {
		s.mu.Lock()
		defer s.mu.Unlock()
		st := cmp.Or(s.cfg.Load(), st)
		n := &sloSeries{key: k}
		n.avail.Store(slo.NewCounter(st.period))
		n.lat.Store(slo.NewCounter(st.period))
		n.hist.Store(slo.NewHistogram(st.window))
		return n
	})
	return ss, st.threshold
}

// observe counts one answered request: its status (0 when none was
// sent) and its duration, at now. Allocation-free.
func (ss *sloSeries) observe(now time.Time, status int, d, threshold time.Duration) {
	ss.avail.Load().RecordAt(now, status >= 100 && status < 500)
	if threshold > 0 {
		ss.lat.Load().RecordAt(now, d <= threshold)
	}
	ss.hist.Load().ObserveAt(now, d)
}

// HealthStatus is what GET /v1/health answers.
type HealthStatus struct {
	Time             time.Time       `json:"time"`
	Objective        float64         `json:"objective"`
	LatencyObjective float64         `json:"latency_objective,omitempty"`
	LatencyThreshold string          `json:"latency_threshold,omitempty"`
	ScoreWindow      string          `json:"score_window"`
	Services         []ServiceHealth `json:"services"`
}

// ServiceHealth is one service: as a whole (every cloud, and the requests
// no instance answered), and per cloud.
type ServiceHealth struct {
	Service string `json:"service"`
	HealthScore
	SLIs   []SLIHealth   `json:"slis"`
	Clouds []CloudHealth `json:"clouds"`
}

// CloudHealth is one service in one cloud.
type CloudHealth struct {
	Cloud string `json:"cloud"`
	HealthScore
	Requests uint64      `json:"requests"` // in the score's window
	P99Ms    float64     `json:"p99_ms"`   // in the score's window
	SLIs     []SLIHealth `json:"slis"`
}

// HealthScore is a score with its inputs and sub-scores (present ones
// only).
type HealthScore struct {
	Score  float64            `json:"score"`
	Inputs map[string]float64 `json:"inputs"`
	Parts  map[string]float64 `json:"parts"`
}

// SLIHealth is one objective's state.
type SLIHealth struct {
	SLI             string             `json:"sli"` // availability, latency
	Objective       float64            `json:"objective"`
	PeriodEvents    slo.Events         `json:"period_events"`
	BudgetRemaining float64            `json:"error_budget_remaining"`
	BurnRates       map[string]float64 `json:"burn_rates"` // by window: 5m, 1h, 3d
	Firing          []AlertHealth      `json:"firing"`
}

// AlertHealth is a firing burn-rate alert.
type AlertHealth struct {
	Severity string  `json:"severity"`
	Long     string  `json:"long"`
	Short    string  `json:"short"`
	Burn     float64 `json:"burn"`
}

// promDuration writes d as Prometheus writes range durations: 5m, 6h, 3d.
func promDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func sliHealth(name string, obj slo.Objective, src slo.Source, now time.Time) SLIHealth {
	r := obj.Evaluate(src, now)
	h := SLIHealth{SLI: name, Objective: obj.Target, PeriodEvents: r.Events, BudgetRemaining: r.BudgetRemaining, BurnRates: map[string]float64{}, Firing: []AlertHealth{}}
	for _, b := range r.Burns {
		h.BurnRates[promDuration(b.Window)] = b.Rate
	}
	for _, a := range r.Firing {
		h.Firing = append(h.Firing, AlertHealth{Severity: a.Severity, Long: promDuration(a.Long), Short: promDuration(a.Short), Burn: a.Burn})
	}
	return h
}

func scoreOf(cfg slo.ScoreConfig, in slo.Inputs) HealthScore {
	s := cfg.Score(in)
	hs := HealthScore{Score: s.Value, Inputs: map[string]float64{}, Parts: map[string]float64{}}
	for _, p := range []struct {
		name     string
		in, part slo.Input
	}{
		{"availability_burn", in.Availability, s.Parts.Availability},
		{"latency_burn", in.Latency, s.Parts.Latency},
		{"p99_drift", in.Drift, s.Parts.Drift},
		{"lease_success", in.Lease, s.Parts.Lease},
		{"replica_lag_seconds", in.ReplicaLag, s.Parts.ReplicaLag},
	} {
		if p.in.Present {
			hs.Inputs[p.name] = p.in.Value
			hs.Parts[p.name] = p.part.Value
		}
	}
	return hs
}

// health evaluates every service's SLIs at now; ok is false when the slo
// section is off.
func (s *sloSet) health(now time.Time) (HealthStatus, bool) {
	st := s.cfg.Load()
	if st == nil {
		return HealthStatus{}, false
	}
	out := HealthStatus{Time: now, Objective: st.avail.Target, ScoreWindow: promDuration(st.window), Services: []ServiceHealth{}}
	if st.threshold > 0 {
		out.LatencyObjective, out.LatencyThreshold = st.lat.Target, st.threshold.String()
	}
	type group struct {
		avail, lat slo.Sum
		hist       slo.Counts
	}
	byService := map[string]map[string]*group{} // service → cloud → SLIs
	for k, ss := range s.series.All() {
		clouds := byService[k.service]
		if clouds == nil {
			clouds = map[string]*group{}
			byService[k.service] = clouds
		}
		g := clouds[k.cloud]
		if g == nil {
			g = &group{}
			clouds[k.cloud] = g
		}
		g.avail = append(g.avail, ss.avail.Load())
		g.lat = append(g.lat, ss.lat.Load())
		var c slo.Counts
		ss.hist.Load().Counts(now, st.window, &c)
		g.hist.Add(&c)
	}
	services := slices.Sorted(func(yield func(string) bool) {
		for name := range byService {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range services {
		clouds := byService[name]
		var all group
		p99 := map[string]time.Duration{}
		var best time.Duration
		for cloud, g := range clouds {
			all.avail = append(all.avail, g.avail...)
			all.lat = append(all.lat, g.lat...)
			// "none": no instance answered; such requests count for
			// the service, not for any cloud.
			if cloud != "none" && g.hist.Total() >= st.minRequests {
				p := g.hist.Quantile(0.99)
				p99[cloud] = p
				if best == 0 || p < best {
					best = p
				}
			}
		}
		inputs := func(avail, lat slo.Sum) slo.Inputs {
			var in slo.Inputs
			if e := avail.Window(now, st.window); e.Total > 0 {
				in.Availability = slo.Value(slo.BurnRate(e, st.avail.Target))
			}
			if e := lat.Window(now, st.window); st.threshold > 0 && e.Total > 0 {
				in.Latency = slo.Value(slo.BurnRate(e, st.lat.Target))
			}
			return in
		}
		slis := func(avail, lat slo.Sum) []SLIHealth {
			h := []SLIHealth{sliHealth("availability", st.avail, avail, now)}
			if st.threshold > 0 {
				h = append(h, sliHealth("latency", st.lat, lat, now))
			}
			return h
		}
		sh := ServiceHealth{Service: name, SLIs: slis(all.avail, all.lat), Clouds: []CloudHealth{}}
		in := inputs(all.avail, all.lat)
		// The service's drift is its worst cloud's: the spread between
		// its slowest and fastest cloud.
		for _, p := range p99 {
			d := slo.Drift(p, best)
			if !in.Drift.Present || d > in.Drift.Value {
				in.Drift = slo.Value(d)
			}
		}
		sh.HealthScore = scoreOf(st.score, in)
		cloudNames := slices.Sorted(func(yield func(string) bool) {
			for c := range clouds {
				if c != "none" && !yield(c) {
					return
				}
			}
		})
		for _, cloud := range cloudNames {
			g := clouds[cloud]
			ch := CloudHealth{Cloud: cloud, Requests: g.hist.Total(), SLIs: slis(g.avail, g.lat)}
			cin := inputs(g.avail, g.lat)
			if p, ok := p99[cloud]; ok {
				cin.Drift = slo.Value(slo.Drift(p, best))
				ch.P99Ms = float64(p.Microseconds()) / 1000
			}
			ch.HealthScore = scoreOf(st.score, cin)
			sh.Clouds = append(sh.Clouds, ch)
		}
		out.Services = append(out.Services, sh)
	}
	return out, true
}

// Health returns the state of every service's objectives and health
// scores; ok is false when the configuration has no slo section.
func (g *Gateway) Health() (HealthStatus, bool) { return g.m.slo.health(time.Now()) }

func (g *Gateway) healthHandler(w http.ResponseWriter, _ *http.Request) {
	h, ok := g.Health()
	if !ok {
		httpjson.Write(w, http.StatusNotFound, map[string]string{"error": "no slo section in the configuration: add slo: {} to keep SLIs (docs/observability.md)"})
		return
	}
	httpjson.Write(w, http.StatusOK, h)
}

// The duohuo_slo_* series, made at each scrape from the SLIs.
var (
	sloObjectiveDesc = prometheus.NewDesc("duohuo_slo_objective_ratio",
		"Objective of each SLI of a service (availability, latency): the share of good requests wanted over the period.", []string{"service", "sli"}, nil)
	sloBudgetDesc = prometheus.NewDesc("duohuo_slo_error_budget_remaining_ratio",
		"Share of the error budget of the period left: 1 with no bad request, 0 when spent, below 0 when overspent.", []string{"service", "sli"}, nil)
	sloBurnDesc = prometheus.NewDesc("duohuo_slo_burn_rate",
		"Error ratio over the window divided by the error budget (1 − objective): 1 spends the budget exactly over the period.", []string{"service", "sli", "window"}, nil)
	sloAlertDesc = prometheus.NewDesc("duohuo_slo_alert_firing",
		"1 while a multiwindow burn-rate alert of the severity fires for the SLI, else 0.", []string{"service", "sli", "severity"}, nil)
	sloScoreDesc = prometheus.NewDesc("duohuo_slo_health_score",
		"Health score of a service in a cloud, 0 (unhealthy) to 1 (docs/observability.md).", []string{"service", "cloud"}, nil)
	sloServiceScoreDesc = prometheus.NewDesc("duohuo_slo_service_health_score",
		"Health score of a service over every cloud, 0 (unhealthy) to 1.", []string{"service"}, nil)
	sloP99Desc = prometheus.NewDesc("duohuo_slo_latency_p99_seconds",
		"P99 of the request duration of a service in a cloud over the score's window.", []string{"service", "cloud"}, nil)
	sloDriftDesc = prometheus.NewDesc("duohuo_slo_p99_drift_ratio",
		"(P99 of the cloud − best cloud's P99) / best cloud's P99, over the score's window.", []string{"service", "cloud"}, nil)
)

// Describe implements prometheus.Collector.
func (s *sloSet) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sloObjectiveDesc, sloBudgetDesc, sloBurnDesc, sloAlertDesc, sloScoreDesc, sloServiceScoreDesc, sloP99Desc, sloDriftDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *sloSet) Collect(ch chan<- prometheus.Metric) {
	h, ok := s.health(time.Now())
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	severities := []string{"page", "ticket"}
	for _, sv := range h.Services {
		gauge(sloServiceScoreDesc, sv.Score, sv.Service)
		for _, sl := range sv.SLIs {
			gauge(sloObjectiveDesc, sl.Objective, sv.Service, sl.SLI)
			gauge(sloBudgetDesc, sl.BudgetRemaining, sv.Service, sl.SLI)
			for w, r := range sl.BurnRates {
				gauge(sloBurnDesc, r, sv.Service, sl.SLI, w)
			}
			for _, sev := range severities {
				v := 0.0
				for _, a := range sl.Firing {
					if a.Severity == sev {
						v = 1
					}
				}
				gauge(sloAlertDesc, v, sv.Service, sl.SLI, sev)
			}
		}
		for _, c := range sv.Clouds {
			gauge(sloScoreDesc, c.Score, sv.Service, c.Cloud)
			if d, ok := c.Inputs["p99_drift"]; ok {
				gauge(sloP99Desc, c.P99Ms/1000, sv.Service, c.Cloud)
				gauge(sloDriftDesc, d, sv.Service, c.Cloud)
			}
		}
	}
}
