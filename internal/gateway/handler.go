package gateway

import (
	"net/http"
	"net/netip"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/cowmap"
)

// idempotent methods may be retried after the request reached an instance
// (RFC 9110, section 9.2.2).
func idempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// tried is the set of instances a request has tried, for exclude.
type tried struct {
	ids [12]string
	n   int

	// After two gateway failures (connect, reset, timeout) in one
	// locality tier, the rest of the request avoids the whole tier: a cloud
	// that lost two instances at once has likely lost them all, and its
	// health checks have not caught up yet (Envoy's previous_priorities
	// retry policy does the same).
	tierFails [4]uint8
	avoid     [4]bool
	avoiding  bool
	tierOf    func(id string) (discovery.Tier, bool)
	fn        func(string) bool // contains, made once when first needed
}

// failedIn records a gateway failure of an instance of tier t.
func (t *tried) failedIn(tier discovery.Tier) {
	if int(tier) >= len(t.tierFails) {
		return
	}
	if t.tierFails[tier]++; t.tierFails[tier] >= 2 {
		t.avoid[tier] = true
		t.avoiding = true
	}
}

// avoidTier makes the rest of the request avoid tier at once: an attempt
// there went silent (per-try timeout).
func (t *tried) avoidTier(tier discovery.Tier) {
	if int(tier) < len(t.avoid) {
		t.avoid[tier] = true
		t.avoiding = true
	}
}

// clearAvoid stops avoiding tiers.
func (t *tried) clearAvoid() {
	t.avoid = [4]bool{}
	t.avoiding = false
	t.tierFails = [4]uint8{}
}

// exclude returns the exclude func of the next pick: nil (nothing to
// exclude, and no closure made) until something was tried.
func (t *tried) exclude() func(string) bool {
	if t.n == 0 && !t.avoiding {
		return nil
	}
	if t.fn == nil {
		t.fn = t.contains
	}
	return t.fn
}

func (t *tried) add(id string) {
	if t.n < len(t.ids) {
		t.ids[t.n] = id
		t.n++
	}
}

func (t *tried) contains(id string) bool {
	for i := 0; i < t.n; i++ {
		if t.ids[i] == id {
			return true
		}
	}
	if t.avoiding && t.tierOf != nil {
		if tier, ok := t.tierOf(id); ok && int(tier) < len(t.avoid) && t.avoid[tier] {
			return true
		}
	}
	return false
}

// ServeHTTP routes one request: see the package documentation. The path
// is normalised before anything reads it, so that the fault filter,
// routing and the instance all see the same one (path.go); then the fault
// filter, off unless configured, runs.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	normalizeURL(r.URL)
	if g.trace != nil {
		g.trace.serve(w, r, g.entry)
		return
	}
	g.entry.ServeHTTP(w, r)
}

// hostPorts memoises netip.AddrPort.String for the upstream URL of each
// attempt, which would otherwise allocate a string per request. It is a
// copy-on-write map read without a lock; a pure function's cache, so one is
// shared by every Gateway in the process. It stops growing at maxHostPorts
// entries (instances churning through many addresses): beyond that, new
// addresses are formatted per call.
var hostPorts = cowmap.Map[netip.AddrPort, string]{Limit: maxHostPorts}

const maxHostPorts = 4096

func hostPort(ap netip.AddrPort) string {
	if s, ok := hostPorts.Load(ap); ok {
		return s
	}
	return hostPorts.LoadOrMake(ap, ap.String)
}
