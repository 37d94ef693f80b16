package gray

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/duohuo/duohuo/request"
)

// Probe describes a request for a dry run: "where would this request go?".
// Header names are case-insensitive; everything not given is absent. A
// Probe is a value; its View may be used from several goroutines as long
// as nobody modifies the Probe's maps.
type Probe struct {
	Method string `json:"method,omitempty"` // "GET", …
	Host   string `json:"host,omitempty"`   // without port
	Path   string `json:"path,omitempty"`   // "/cart"
	// Headers, Cookies and Query map a name to its (first) value.
	Headers map[string]string `json:"headers,omitempty"`
	Cookies map[string]string `json:"cookies,omitempty"`
	Query   map[string]string `json:"query,omitempty"`
	// Source is the peer address ("192.0.2.7"); empty means unknown.
	Source string `json:"source,omitempty"`
	// Color is the trusted lane the request carries, as the color
	// middleware would have accepted it; empty means none.
	Color string `json:"color,omitempty"`
}

// View returns the [request.View] of p, or an error naming the field that
// cannot be read (an unparsable source address).
func (p Probe) View() (request.View, error) {
	v := probeView{p: p}
	if p.Source != "" {
		a, err := netip.ParseAddr(p.Source)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		v.src = a.Unmap()
	}
	if len(p.Headers) > 0 {
		v.h = make(map[string]string, len(p.Headers))
		for k, val := range p.Headers {
			v.h[http.CanonicalHeaderKey(k)] = val
		}
	}
	return v, nil
}

type probeView struct {
	p   Probe
	h   map[string]string
	src netip.Addr
}

func (v probeView) Method() string            { return v.p.Method }
func (v probeView) Host() string              { return strings.ToLower(v.p.Host) }
func (v probeView) Path() string              { return v.p.Path }
func (v probeView) Header(name string) string { return v.h[http.CanonicalHeaderKey(name)] }
func (v probeView) Cookie(name string) string { return v.p.Cookies[name] }
func (v probeView) Query(name string) string  { return v.p.Query[name] }
func (v probeView) RemoteAddr() netip.Addr    { return v.src }

// Explanation is a dry run's answer: the decision, and for a decision by
// weight, the whole split (a real request rolls once).
type Explanation struct {
	Decision
	// Split is each weighted subset's share in percent, when Reason is
	// ByWeight.
	Split map[string]float64 `json:"split,omitempty"`
	// Fallback is where the request goes if Subset has no healthy
	// instance; empty means it fails (strict mode, or already baseline).
	Fallback string `json:"fallback,omitempty"`
	// Bucket is the user's hash bucket (0–9999) for each rule with a
	// user hash whose id the probe carries, by rule index.
	Buckets map[int]uint32 `json:"buckets,omitempty"`
}

// Explain answers where p would go under r, without side effects.
func (r *Router) Explain(p Probe) (Explanation, error) {
	v, err := p.View()
	if err != nil {
		return Explanation{}, err
	}
	e := Explanation{Decision: r.RouteRoll(v, p.Color, 0)}
	if e.Reason == ByWeight {
		e.Split = make(map[string]float64, len(r.weights))
		var prev uint64
		for _, w := range r.weights {
			e.Split[r.subsets[w.subset].name] += float64(w.upTo-prev) * 100 / float64(r.total)
			prev = w.upTo
		}
		e.Subset, e.Index = "", -1 // decided per request
	}
	if fb, ok := r.Fallback(e.Decision); ok && e.Index >= 0 {
		e.Fallback = fb.Subset
	}
	for i, ru := range r.rules {
		if ru.hash == nil {
			continue
		}
		id := v.Header(ru.hash.header)
		if ru.hash.header == "" {
			id = v.Cookie(ru.hash.cookie)
		}
		if id != "" {
			if e.Buckets == nil {
				e.Buckets = map[int]uint32{}
			}
			e.Buckets[i] = Bucket(r.salt, id)
		}
	}
	return e, nil
}
