package console

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/internal/httpjson"
)

// Snapshot is what the event stream pushes every Interval: the topology
// with each instance's health and traffic, and the traffic of every route
// and cloud with sparklines.
type Snapshot struct {
	Time       time.Time         `json:"time"`
	Site       string            `json:"site,omitempty"`
	IntervalMs int64             `json:"interval_ms"`
	Services   []ServiceSnapshot `json:"services"`
	Routes     []series          `json:"routes"`
	Clouds     []series          `json:"clouds"`
}

// ServiceSnapshot is one service on the topology page.
type ServiceSnapshot struct {
	Name    string             `json:"name"`
	Serving string             `json:"serving_tier,omitempty"`
	Panic   bool               `json:"panic"`
	Tiers   []TierSnapshot     `json:"tiers"`
	Inst    []InstanceSnapshot `json:"instances"`
}

// TierSnapshot is one locality tier of a service.
type TierSnapshot struct {
	Tier    string `json:"tier"`
	Healthy int    `json:"healthy"`
	Total   int    `json:"total"`
	Panic   bool   `json:"panic"`
}

// InstanceSnapshot is one instance: where, its health as the gateway
// sees it, and the attempts it gets.
type InstanceSnapshot struct {
	ID          string  `json:"id"`
	Cloud       string  `json:"cloud"`
	Region      string  `json:"region"`
	Zone        string  `json:"zone"`
	Status      string  `json:"status"`
	Weight      uint32  `json:"weight"`
	LatencyMs   float64 `json:"latency_ms"`
	SuccessRate float64 `json:"success_rate"`
	Breaker     string  `json:"breaker,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	RPS         float64 `json:"rps"`        // attempts per second
	FailRatio   float64 `json:"fail_ratio"` // of the attempts, failed
	Version     string  `json:"version,omitempty"`
}

// snapshot builds the snapshot of now, as JSON.
func (c *Console) snapshot(now time.Time) []byte {
	snap := Snapshot{Time: now.UTC(), Site: c.opts.Site, IntervalMs: c.opts.Interval.Milliseconds(),
		Services: []ServiceSnapshot{}, Routes: c.sampler.traffic(true), Clouds: c.sampler.traffic(false)}
	rates := c.sampler.instanceRates()
	if c.opts.Services != nil {
		for _, s := range c.opts.Services() {
			ss := ServiceSnapshot{Name: s.Name, Serving: s.Serving, Panic: s.Panic, Tiers: []TierSnapshot{}, Inst: []InstanceSnapshot{}}
			for _, t := range s.Tiers {
				ss.Tiers = append(ss.Tiers, TierSnapshot{Tier: t.Tier, Healthy: t.Healthy, Total: t.Total, Panic: t.Panic})
			}
			for _, in := range s.Instances {
				r := rates[in.ID]
				ss.Inst = append(ss.Inst, InstanceSnapshot{
					ID: in.ID, Cloud: in.Locality.Cloud, Region: in.Locality.Region, Zone: in.Locality.Zone,
					Status: in.Status, Weight: in.Weight, LatencyMs: in.LatencyMs, SuccessRate: round(in.SuccessRate, 4),
					Breaker: in.Breaker, Reason: in.Reason, RPS: r[0], FailRatio: r[1], Version: in.Labels["version"],
				})
			}
			snap.Services = append(snap.Services, ss)
		}
	}
	b, err := json.Marshal(snap)
	if err != nil { // cannot happen: the types above always encode
		c.opts.Logger.Error("console snapshot", "err", err)
		return []byte("{}")
	}
	return b
}

// frame is one published snapshot; next is closed when a newer one is
// published.
type frame struct {
	data []byte
	next chan struct{}
}

// hub hands the latest snapshot to every stream: one build per Interval,
// whatever the number of pages open.
type hub struct{ cur atomic.Pointer[frame] }

func (h *hub) publish(data []byte) {
	f := &frame{data: data, next: make(chan struct{})}
	if old := h.cur.Swap(f); old != nil {
		close(old.next)
	}
}

// streamWriteTimeout drops a stream whose client stopped reading.
const streamWriteTimeout = 10 * time.Second

// serveEvents streams snapshots as server-sent events ("snapshot" events)
// until the client goes, the console closes, or a write takes longer than
// streamWriteTimeout. The handler's own goroutine does the work: one per
// stream, at most MaxClients.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request, _ auth) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	if n := c.clients.Add(1); n > int64(c.opts.MaxClients) {
		c.clients.Add(-1)
		w.Header().Set("Retry-After", "5")
		httpjson.Write(w, http.StatusServiceUnavailable, httpjson.ErrorBody{Error: "console: too many live pages open; close some"})
		return
	}
	defer c.clients.Add(-1)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b ...[]byte) bool {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		for _, p := range b {
			if _, err := w.Write(p); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: 3000\n\n")) {
		return
	}
	f := c.hub.cur.Load()
	for {
		if !write([]byte("event: snapshot\ndata: "), f.data, []byte("\n\n")) {
			return
		}
		select {
		case <-f.next:
			f = c.hub.cur.Load()
		case <-r.Context().Done():
			return
		case <-c.done:
			return
		}
	}
}

// Streams returns the number of event streams open.
func (c *Console) Streams() int { return int(c.clients.Load()) }
