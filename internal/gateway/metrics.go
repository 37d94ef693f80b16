package gateway

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/internal/cowmap"
)

// metrics are the gateway's Prometheus series (docs/metrics.md lists them).
// Children that the request path touches are resolved once and cached, so a
// request costs a few atomic adds, not label hashing under a lock.
type metrics struct {
	requests  *prometheus.CounterVec   // route, service, cloud, code
	duration  *prometheus.HistogramVec // route, service, cloud
	attempts  *prometheus.CounterVec   // service, instance, cloud, result
	retries   *prometheus.CounterVec   // route, service
	ejections *prometheus.CounterVec   // service
	healthy   *prometheus.GaugeVec     // service, tier
	instances *prometheus.GaugeVec     // service, tier
	active    prometheus.Gauge
	// refused and acceptErrors are per listener (listener.go).
	refused      *prometheus.CounterVec // listener, reason
	acceptErrors *prometheus.CounterVec // listener
	framing      *prometheus.CounterVec // listener
	reloads      *prometheus.CounterVec // result

	fallbacks          *prometheus.CounterVec // route, kind
	breakerTransitions *prometheus.CounterVec // kind, to
	faults             *prometheus.CounterVec // rule, kind
	hedges             prometheus.Counter
	ratelimit          *prometheus.CounterVec // rule, result
	slo                *sloSet                // the SLIs (slo.go); off until configured

	// instanceLabels bounds the distinct instance label values: the first
	// maxInstances instances seen get their own, the rest share "other".
	maxInstances int
	instMu       sync.Mutex // guards instSeen
	instSeen     map[string]struct{}
}

// requestDurationBuckets are the bounds of duohuo_request_duration_seconds;
// the latency SLO's threshold must be one for the generated rules
// (slo_rules.go).
var requestDurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// codeClasses are the values of the code label, indexed by status/100; 0
// stands for "no response" (the gateway answered itself or the client left).
var codeClasses = [6]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

func newMetrics(reg prometheus.Registerer, maxInstances int) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_requests_total",
			Help: "Client requests answered by the gateway, by route, service, cloud of the instance that answered (none when no instance did) and status class.",
		}, []string{"route", "service", "cloud", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "duohuo_request_duration_seconds",
			Help:    "Time from receiving a client request to the end of its response, by route, service and cloud of the instance that answered.",
			Buckets: requestDurationBuckets,
		}, []string{"route", "service", "cloud"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_upstream_attempts_total",
			Help: "Attempts sent to upstream instances, by service, instance (bounded by metrics.instance_labels; \"other\" beyond it, \"\" when off), cloud and result (success, gateway_failure, server_error, client_error; client_fault when the client broke the attempt, canceled when it was abandoned: neither counts against the instance).",
		}, []string{"service", "instance", "cloud", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_retries_total",
			Help: "Attempts after the first, by route and service.",
		}, []string{"route", "service"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_ejections_total",
			Help: "Instances taken out of service by health checking (active probe or outlier detection), by service.",
		}, []string{"service"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "duohuo_healthy_instances",
			Help: "Healthy instances per service and locality tier as seen from this gateway (same_zone, same_region, same_cloud, other_cloud).",
		}, []string{"service", "locality"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "duohuo_instances",
			Help: "Known instances per service and locality tier, healthy or not.",
		}, []string{"service", "locality"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_connections_refused_total",
			Help: "Client connections closed as soon as they were accepted, by listener and reason (max_connections: the listener held as many as it may).",
		}, []string{"listener", "reason"}),
		acceptErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_accept_errors_total",
			Help: "Failed accepts retried after a pause (out of file descriptors: EMFILE, ENFILE), by listener.",
		}, []string{"listener"}),
		framing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_framing_refused_total",
			Help: "HTTP/1.x requests refused for their framing (request smuggling shapes, malformed chunked bodies, heads over max_header_bytes), by listener; each closed its connection.",
		}, []string{"listener"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_active_connections",
			Help: "Client connections open on the gateway's listeners.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_config_reloads_total",
			Help: "Configuration reloads by result (applied, rejected).",
		}, []string{"result"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_fallbacks_total",
			Help: "Requests answered from a route's fallback, by route and kind (stale, static).",
		}, []string{"route", "kind"}),
		breakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_breaker_transitions_total",
			Help: "Circuit breaker state changes, by kind of breaker (instance, route) and the state entered (closed, open, half-open).",
		}, []string{"kind", "to"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_faults_injected_total",
			Help: "Faults injected by the fault filter, by rule and kind.",
		}, []string{"rule", "kind"}),
		hedges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_hedges_total",
			Help: "Second tries sent while the first was still waiting: after the route's hedge delay, or after the adaptive per-try timeout (those are also counted in duohuo_retries_total).",
		}),
		ratelimit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_ratelimit_decisions_total",
			Help: "Decisions of the rate_limits rules, by rule and result: allowed (at once), rejected (429), queued (admitted after a wait), timeout (over the limit for longer than max_wait: 429).",
		}, []string{"rule", "result"}),
		maxInstances: maxInstances,
		instSeen:     map[string]struct{}{},
		slo:          &sloSet{},
	}
	// Both outcomes exist from the start, so that a dashboard or alert on
	// rejected reloads sees 0, not nothing.
	m.reloads.WithLabelValues("applied")
	m.reloads.WithLabelValues("rejected")
	reg.MustRegister(m.requests, m.duration, m.attempts, m.retries, m.ejections, m.healthy, m.instances, m.active, m.refused, m.acceptErrors, m.framing, m.reloads,
		m.fallbacks, m.breakerTransitions, m.faults, m.hedges, m.ratelimit, m.slo)
	return m
}

// Injected counts a fault the fault filter injected (fault.Observer).
func (m *metrics) Injected(rule string, kind fault.Kind) {
	m.faults.WithLabelValues(rule, kind.String()).Inc()
}

// instanceLabel returns the label value for instance id under the bound.
func (m *metrics) instanceLabel(id string) string {
	if m.maxInstances <= 0 {
		return ""
	}
	m.instMu.Lock()
	defer m.instMu.Unlock()
	if _, ok := m.instSeen[id]; ok {
		return id
	}
	if len(m.instSeen) < m.maxInstances {
		m.instSeen[id] = struct{}{}
		return id
	}
	return "other"
}

// routeSeries caches the children of one route × service × cloud.
type routeSeries struct {
	codes    [len(codeClasses)]prometheus.Counter
	duration prometheus.Observer
	sli      *sloSeries    // nil: no slo section
	slow     time.Duration // the latency SLI's threshold; 0: none
}

// seriesCache is a copy-on-write map from cloud to the route's series: reads
// are a map lookup on an immutable map, writes (a new cloud) are rare.
type seriesCache struct {
	m       *metrics
	route   string
	service string
	byCloud cowmap.Map[string, *routeSeries]
}

func (c *seriesCache) get(cloud string) *routeSeries {
	if s, ok := c.byCloud.Load(cloud); ok {
		return s
	}
	return c.byCloud.LoadOrMake(cloud, func() *routeSeries {
		s := &routeSeries{duration: c.m.duration.WithLabelValues(c.route, c.service, cloud)}
		s.sli, s.slow = c.m.slo.get(sloKey{c.route, c.service, cloud})
		for i, cl := range codeClasses {
			s.codes[i] = c.m.requests.WithLabelValues(c.route, c.service, cloud, cl)
		}
		return s
	})
}

func codeIndex(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status / 100
}

// attemptSeries caches the attempt counters of one instance.
type attemptSeries [6]prometheus.Counter // indexed by Outcome.attemptResult

// attemptResults are the result labels: health's four classes, then the
// attempts that say nothing about the instance.
var attemptResults = [6]string{"success", "gateway_failure", "server_error", "client_error", "client_fault", "canceled"}

func (m *metrics) attemptSeriesFor(service, id, cloud string) *attemptSeries {
	inst := m.instanceLabel(id)
	var s attemptSeries
	for i, r := range attemptResults {
		s[i] = m.attempts.WithLabelValues(service, inst, cloud, r)
	}
	return &s
}

var tierNames = [...]string{"same_zone", "same_region", "same_cloud", "other_cloud"}

func tierName(t int) string {
	if t >= 0 && t < len(tierNames) {
		return tierNames[t]
	}
	return strconv.Itoa(t)
}
