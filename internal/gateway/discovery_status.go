package gateway

import (
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/httpjson"
)

// discoveryCollector exports the aggregator's view of each discovery
// source, read at scrape time (Aggregator.Status), so that a source that
// goes silent shows as an old last-success time rather than as nothing.
type discoveryCollector struct {
	agg *discovery.Aggregator

	instances, stale, held, shadowed, lastSuccess, lastError, updates, refused *prometheus.Desc
}

func newDiscoveryCollector(agg *discovery.Aggregator) *discoveryCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("duohuo_discovery_"+name, help, []string{"source"}, nil)
	}
	return &discoveryCollector{
		agg:         agg,
		instances:   d("source_instances", "Instances in the source's last accepted report."),
		stale:       d("source_stale", "1 while the source's latest report was an error and its last good report serves."),
		held:        d("source_held_services", "Services whose last report from the source dropped too many instances at once, held for confirmation."),
		shadowed:    d("source_shadowed_instances", "Instances of the source hidden by a source of higher precedence reporting the same address or id."),
		lastSuccess: d("source_last_success_timestamp_seconds", "Unix time of the source's last accepted report; 0 before the first."),
		lastError:   d("source_last_error_timestamp_seconds", "Unix time of the source's last error; 0 if none."),
		updates:     d("source_updates_total", "Reports of the source accepted."),
		refused:     d("source_errors_total", "Reports of the source refused, and errors it recorded (unreachable, bad answer, bad instances)."),
	}
}

func (c *discoveryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.instances, c.stale, c.held, c.shadowed, c.lastSuccess, c.lastError, c.updates, c.refused} {
		ch <- d
	}
}

func (c *discoveryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.agg.Status() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, st.Name)
		}
		g(c.instances, float64(st.Instances))
		stale := 0.0
		if st.Stale {
			stale = 1
		}
		g(c.stale, stale)
		g(c.held, float64(st.Held))
		g(c.shadowed, float64(st.Shadowed))
		ts := func(d *prometheus.Desc, t time.Time) {
			v := 0.0
			if !t.IsZero() {
				v = float64(t.UnixNano()) / 1e9
			}
			g(d, v)
		}
		ts(c.lastSuccess, st.LastUpdate)
		ts(c.lastError, st.LastErrorAt)
		ch <- prometheus.MustNewConstMetric(c.updates, prometheus.CounterValue, float64(st.Updates), st.Name)
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(st.Refused), st.Name)
	}
}

// DiscoveryDump is what `duohuo discovery dump` shows of one service: what
// each of its sources says and why each instance is published or not, and
// the published instances with their health.
type DiscoveryDump struct {
	discovery.Explanation
	// Published is the merged view as the balancer sees it: every
	// instance with its health state and the reason for it.
	Published []InstanceStatus `json:"published"`
}

// DiscoveryDumps returns the dump of every service, sorted by name, or of
// the one named (false if there is no such service).
func (g *Gateway) DiscoveryDumps(only string) ([]DiscoveryDump, bool) {
	var out []DiscoveryDump
	for _, s := range g.Services() {
		if only != "" && s.Name != only {
			continue
		}
		ex := g.agg.Explain(s.Name)
		// Only this service's sources: each service has its own.
		mine := map[string]bool{}
		for _, src := range s.Sources {
			mine[src.Name] = true
		}
		ex.Sources = slices.DeleteFunc(ex.Sources, func(r discovery.SourceReport) bool { return !mine[r.Source] })
		out = append(out, DiscoveryDump{Explanation: ex, Published: s.Instances})
	}
	return out, only == "" || len(out) == 1
}

// discoveryHandlers adds the discovery dump to the admin API.
func (g *Gateway) discoveryHandlers(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/discovery", func(w http.ResponseWriter, r *http.Request) {
		d, _ := g.DiscoveryDumps("")
		httpjson.Write(w, http.StatusOK, d)
	})
	mux.HandleFunc("GET /v1/discovery/{name}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := g.DiscoveryDumps(r.PathValue("name"))
		if !ok {
			httpjson.Write(w, http.StatusNotFound, map[string]string{"error": "no service " + r.PathValue("name")})
			return
		}
		httpjson.Write(w, http.StatusOK, d[0])
	})
}
