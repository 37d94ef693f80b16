package console

import (
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Sizes of the sampler's memory: ringSize samples, one per Interval (five
// minutes at the default second), with at most maxKeys routes, clouds and
// instances each; more fold into "other".
const (
	ringSize  = 300
	maxKeys   = 64
	sparkLen  = 120 // points of a sparkline: the last two minutes
	rateSpan  = 5   // samples a rate is averaged over
	quantSpan = 10  // samples the p50 and p99 are taken over
)

// The series the sampler reads (docs/metrics.md).
const (
	metricRequests = "duohuo_requests_total"
	metricDuration = "duohuo_request_duration_seconds"
	metricAttempts = "duohuo_upstream_attempts_total"
)

// counts are the cumulative counters of one route or cloud at one sample.
type counts struct {
	requests, errors float64
	buckets          []float64 // cumulative counts at bounds, as in the histogram
}

// sample is the gateway's counters at one moment.
type sample struct {
	at       time.Time
	routes   map[string]*counts
	clouds   map[string]*counts
	attempts map[string]float64 // upstream attempts by instance
	failures map[string]float64 // of which failed (gateway_failure, server_error)
}

// sampler keeps the last ringSize samples. It is used by the Console's
// run goroutine only, and by snapshot, which runs there too (and once in
// New, before it starts).
type sampler struct {
	g      prometheus.Gatherer
	bounds []float64 // histogram upper bounds, from the first histogram seen
	ring   [ringSize]*sample
	n      int // samples taken
}

func newSampler(g prometheus.Gatherer) *sampler { return &sampler{g: g} }

// at returns the sample i back from the newest (0 newest), or nil.
func (s *sampler) at(i int) *sample {
	if i < 0 || i >= s.n || i >= ringSize {
		return nil
	}
	return s.ring[(s.n-1-i)%ringSize]
}

func key(m map[string]*counts, k string) *counts {
	if c, ok := m[k]; ok {
		return c
	}
	if len(m) >= maxKeys {
		k = "other"
		if c, ok := m[k]; ok {
			return c
		}
	}
	c := &counts{}
	m[k] = c
	return c
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sample gathers the gateway's metrics into a new sample. A gather error
// keeps what was gathered (the registry returns partial results).
func (s *sampler) sample(now time.Time) {
	sm := &sample{at: now, routes: map[string]*counts{}, clouds: map[string]*counts{},
		attempts: map[string]float64{}, failures: map[string]float64{}}
	if s.g != nil {
		mfs, _ := s.g.Gather()
		for _, mf := range mfs {
			switch mf.GetName() {
			case metricRequests:
				for _, m := range mf.GetMetric() {
					v := m.GetCounter().GetValue()
					isErr := label(m, "code") == "5xx"
					for _, c := range []*counts{key(sm.routes, label(m, "route")), key(sm.clouds, label(m, "cloud"))} {
						c.requests += v
						if isErr {
							c.errors += v
						}
					}
				}
			case metricDuration:
				for _, m := range mf.GetMetric() {
					h := m.GetHistogram()
					if s.bounds == nil {
						for _, b := range h.GetBucket() {
							s.bounds = append(s.bounds, b.GetUpperBound())
						}
					}
					for _, c := range []*counts{key(sm.routes, label(m, "route")), key(sm.clouds, label(m, "cloud"))} {
						if c.buckets == nil {
							c.buckets = make([]float64, len(s.bounds)+1)
						}
						for i, b := range h.GetBucket() {
							if i < len(s.bounds) {
								c.buckets[i] += float64(b.GetCumulativeCount())
							}
						}
						c.buckets[len(s.bounds)] += float64(h.GetSampleCount())
					}
				}
			case metricAttempts:
				for _, m := range mf.GetMetric() {
					id := label(m, "instance")
					if _, ok := sm.attempts[id]; !ok && len(sm.attempts) >= maxKeys*4 {
						id = "other"
					}
					v := m.GetCounter().GetValue()
					switch label(m, "result") {
					case "canceled", "client_fault":
						continue
					case "gateway_failure", "server_error":
						sm.failures[id] += v
					}
					sm.attempts[id] += v
				}
			}
		}
	}
	s.ring[s.n%ringSize] = sm
	s.n++
}

// series is one route's or cloud's traffic, as the traffic page shows it.
type series struct {
	Name       string    `json:"name"`
	RPS        float64   `json:"rps"`         // over the last rateSpan samples
	ErrorRatio float64   `json:"error_ratio"` // 5xx answers, same span
	P50Ms      float64   `json:"p50_ms"`      // over the last quantSpan samples
	P99Ms      float64   `json:"p99_ms"`
	Total      float64   `json:"total"`     // since the gateway started
	RPSSpark   []float64 `json:"rps_spark"` // requests per second, oldest first
	ErrSpark   []float64 `json:"err_spark"` // 5xx per second
}

func nonNeg(v float64) float64 { return math.Max(v, 0) } // a counter reset reads as 0

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// traffic returns the series of every route (routes true) or cloud.
func (s *sampler) traffic(routes bool) []series {
	cur := s.at(0)
	if cur == nil {
		return []series{}
	}
	pick := func(sm *sample) map[string]*counts {
		if sm == nil {
			return nil
		}
		if routes {
			return sm.routes
		}
		return sm.clouds
	}
	out := []series{}
	for name, c := range pick(cur) {
		se := series{Name: name, Total: c.requests, RPSSpark: []float64{}, ErrSpark: []float64{}}
		if old := s.at(min(rateSpan, s.n-1)); old != nil && old != cur {
			oc := pick(old)[name]
			if oc == nil {
				oc = &counts{} // the route's first requests
			}
			dt := cur.at.Sub(old.at).Seconds()
			d := nonNeg(c.requests - oc.requests)
			se.RPS = round(d/dt, 2)
			if d > 0 {
				se.ErrorRatio = round(nonNeg(c.errors-oc.errors)/d, 4)
			}
		}
		if old := s.at(min(quantSpan, s.n-1)); old != nil && old != cur && c.buckets != nil {
			var prev []float64
			if oc := pick(old)[name]; oc != nil {
				prev = oc.buckets
			}
			se.P50Ms = round(quantile(0.5, s.bounds, c.buckets, prev)*1000, 2)
			se.P99Ms = round(quantile(0.99, s.bounds, c.buckets, prev)*1000, 2)
		}
		for i := min(sparkLen, s.n-1) - 1; i >= 0; i-- {
			a, b := s.at(i+1), s.at(i)
			ca, cb := pick(a)[name], pick(b)[name]
			var r, e float64
			if cb != nil {
				var ra, ea float64
				if ca != nil {
					ra, ea = ca.requests, ca.errors
				}
				dt := b.at.Sub(a.at).Seconds()
				r, e = round(nonNeg(cb.requests-ra)/dt, 1), round(nonNeg(cb.errors-ea)/dt, 1)
			}
			se.RPSSpark = append(se.RPSSpark, r)
			se.ErrSpark = append(se.ErrSpark, e)
		}
		out = append(out, se)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// instanceRates returns each instance's attempts per second and failed
// share over the last rateSpan samples.
func (s *sampler) instanceRates() map[string][2]float64 {
	cur, old := s.at(0), s.at(min(rateSpan, s.n-1))
	out := map[string][2]float64{}
	if cur == nil || old == nil || old == cur {
		return out
	}
	dt := cur.at.Sub(old.at).Seconds()
	for id, v := range cur.attempts {
		d := nonNeg(v - old.attempts[id])
		var fail float64
		if d > 0 {
			fail = round(nonNeg(cur.failures[id]-old.failures[id])/d, 4)
		}
		out[id] = [2]float64{round(d/dt, 2), fail}
	}
	return out
}

// quantile estimates the q-quantile of the observations between two
// cumulative bucket vectors (prev nil: since the start), interpolating
// linearly inside the bucket as Prometheus's histogram_quantile does. The
// last entry of cur and prev is the total count (the +Inf bucket); a
// quantile in it is the highest finite bound. 0 when nothing was observed.
func quantile(q float64, bounds, cur, prev []float64) float64 {
	if len(cur) != len(bounds)+1 {
		return 0
	}
	d := func(i int) float64 {
		if prev == nil || i >= len(prev) {
			return cur[i]
		}
		return nonNeg(cur[i] - prev[i])
	}
	total := d(len(bounds))
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, ub := range bounds {
		c := d(i)
		if c >= rank {
			if c == below {
				return ub
			}
			return lower + (ub-lower)*(rank-below)/(c-below)
		}
		lower, below = ub, c
	}
	if len(bounds) == 0 {
		return 0
	}
	return bounds[len(bounds)-1]
}
