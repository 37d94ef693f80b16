package gateway

import (
	"net/http"
	"sort"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/health"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/httpjson"
)

// ServiceStatus is what the admin API shows of one service.
type ServiceStatus struct {
	Name      string                   `json:"name"`
	Revision  uint64                   `json:"revision"`
	Serving   string                   `json:"serving_tier,omitempty"` // nearest tier that takes traffic
	Panic     bool                     `json:"panic"`
	Tiers     []TierStatus             `json:"tiers"`
	Instances []InstanceStatus         `json:"instances"`
	Sources   []discovery.SourceStatus `json:"sources"`
}

// TierStatus is one locality tier of a service.
type TierStatus struct {
	Tier    string  `json:"tier"`
	Healthy int     `json:"healthy"`
	Total   int     `json:"total"`
	Load    float64 `json:"load"`
	Panic   bool    `json:"panic"`
}

// InstanceStatus is one instance with its health.
type InstanceStatus struct {
	discovery.Instance
	Status      string  `json:"status"`
	Weight      uint32  `json:"effective_weight"`
	LatencyMs   float64 `json:"latency_ms"`
	SuccessRate float64 `json:"success_rate"`
	Reason      string  `json:"reason,omitempty"`
	// Breaker is the instance's circuit breaker state (closed, open,
	// half_open); empty when the service has no breakers or the instance
	// has not been called yet.
	Breaker string `json:"breaker,omitempty"`
}

// Running reports whether cfg is the configuration the gateway runs: after
// Reload, whether cfg was applied (an error from Reload may also mean that
// it was applied but listener changes wait for a restart).
func (g *Gateway) Running(cfg *config.Config) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg == cfg
}

// Services returns the status of every service, sorted by name.
func (g *Gateway) Services() []ServiceStatus {
	g.mu.Lock()
	svcs := make([]*service, 0, len(g.services))
	for _, s := range g.services {
		svcs = append(svcs, s)
	}
	g.mu.Unlock()
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].name < svcs[j].name })
	all := g.agg.Status()
	out := make([]ServiceStatus, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, s.status(all))
	}
	return out
}

func (s *service) status(sources []discovery.SourceStatus) ServiceStatus {
	st := s.bal.State()
	ss := ServiceStatus{Name: s.name, Panic: st.Panic}
	if t, ok := st.Serving(); ok {
		ss.Serving = tierName(int(t))
	}
	for t, ts := range st.Tiers {
		ss.Tiers = append(ss.Tiers, TierStatus{Tier: tierName(t), Healthy: ts.Healthy, Total: ts.Total, Load: ts.Load, Panic: ts.Panic})
	}
	states := map[string]health.State{}
	for _, h := range s.tracker.Snapshot() {
		states[h.ID] = h
	}
	breakers := map[string]bool{}
	if s.breaker != nil {
		for _, k := range s.breaker.Keys() {
			breakers[k] = true
		}
	}
	if v := s.agg.View(s.name); v != nil {
		ss.Revision = v.Revision
		for _, in := range v.Instances {
			is := InstanceStatus{Instance: in, Status: "unknown"}
			if h, ok := states[in.ID]; ok {
				is.Status = h.Status.String()
				is.Weight = h.Weight
				is.LatencyMs = float64(h.Latency.Microseconds()) / 1000
				is.SuccessRate = h.SuccessRate
				is.Reason = h.Reason
			}
			if breakers[in.ID] {
				is.Breaker = s.breaker.Get(in.ID).State().String()
			}
			ss.Instances = append(ss.Instances, is)
		}
	}
	mine := map[string]bool{}
	for _, n := range s.sources {
		mine[n] = true
	}
	for _, src := range sources {
		if mine[src.Name] {
			ss.Sources = append(ss.Sources, src)
		}
	}
	return ss
}

// AdminHandler serves the gateway's admin API, to be mounted on the admin
// listener:
//
//	GET /v1/services          every service: tiers, instances with health, sources
//	GET /v1/services/{name}   one service
//	GET /v1/discovery         every service: what each source says, and why
//	                          each instance is published or not
//	GET /v1/discovery/{name}  one service
//	GET /v1/health            every service and cloud: health score, its
//	                          inputs, SLO burn rates, alerts firing
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	g.discoveryHandlers(mux)
	mux.HandleFunc("GET /v1/health", g.healthHandler)
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, g.Services())
	})
	mux.HandleFunc("GET /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range g.Services() {
			if s.Name == r.PathValue("name") {
				httpjson.Write(w, http.StatusOK, s)
				return
			}
		}
		httpjson.Write(w, http.StatusNotFound, map[string]string{"error": "no service " + r.PathValue("name")})
	})
	return mux
}
