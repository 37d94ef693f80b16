package gateway

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/duohuo/duohuo/internal/httpjson"
)

// RateLimitStatus is what the admin API shows of one rate_limits rule.
type RateLimitStatus struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind"` // rate, window or concurrency
	Limit  string   `json:"limit"`
	Key    string   `json:"key,omitempty"`
	Action string   `json:"action"`
	Routes []string `json:"routes"` // the routes it applies to now
	// Of a rule without a key: the bucket's tokens and current rate, the
	// window's count, or the calls in flight.
	Tokens   *float64 `json:"tokens,omitempty"`
	Rate     *float64 `json:"rate_per_second,omitempty"`
	Count    *float64 `json:"window_count,omitempty"`
	InFlight *int     `json:"in_flight,omitempty"`
	Waiting  *int     `json:"waiting,omitempty"` // queued for a slot (action queue)
	// Of a rule with a key: the keys tracked, and the bound.
	Keys    *int `json:"keys_tracked,omitempty"`
	MaxKeys int  `json:"max_keys,omitempty"`
	// Of a global rule: this second's counts.
	Global *GlobalLimitStatus `json:"global,omitempty"`
}

// GlobalLimitStatus is a global limit's state at this site, for the
// current one-second window.
type GlobalLimitStatus struct {
	Sites      int     `json:"sites"`       // sharing the limit, as configured
	Heard      int     `json:"sites_heard"` // other sites heard from in the last two seconds
	CutOff     bool    `json:"cut_off"`     // heard from fewer than sites-1: admitting only the share
	Share      float64 `json:"share"`       // of the rate while cut off
	Own        int64   `json:"admitted_here"`
	Others     int64   `json:"admitted_elsewhere"`
	Replicated bool    `json:"replicated"` // false: no replica, always cut off
}

// RateLimits returns the state of every rate_limits rule, in file order.
func (g *Gateway) RateLimits() []RateLimitStatus {
	t := g.table.Load()
	if t == nil {
		return nil
	}
	out := make([]RateLimitStatus, 0, len(t.limits))
	for _, r := range t.limits {
		c := r.cfg
		s := RateLimitStatus{Name: r.name, Key: c.Key.String(), Action: c.Action, Routes: []string{}}
		for _, rt := range t.routes {
			if contains(rt.limitNames(), r.name) {
				s.Routes = append(s.Routes, rt.name)
			}
		}
		switch {
		case r.isConc:
			s.Kind, s.Limit = "concurrency", strconv.Itoa(c.Concurrency)
		case r.isWindow:
			s.Kind, s.Limit = "window", strconv.Itoa(c.Requests)+"/"+c.Window.String()
		default:
			s.Kind, s.Limit = "rate", c.Rate.String()
		}
		switch {
		case r.global != nil:
			g := r.global
			w := g.now().Unix()
			gs := &GlobalLimitStatus{Sites: g.sites, Share: g.share, Replicated: g.c != nil}
			if g.c != nil {
				gs.Own = g.c.Own(w)
				gs.Others, gs.Heard = g.c.Others(w)
			}
			gs.CutOff = gs.Heard < g.sites-1
			s.Kind, s.Global = "global rate", gs
		case r.bucket != nil:
			tok, rate := r.bucket.Tokens(), r.bucket.CurrentRate()
			s.Tokens, s.Rate = &tok, &rate
		case r.window != nil:
			n := r.window.Count()
			s.Count = &n
		case r.conc != nil:
			n, w := r.conc.InFlight(), r.conc.Waiting()
			s.InFlight, s.Waiting = &n, &w
		default:
			var n int
			switch {
			case r.buckets != nil:
				n = r.buckets.Len()
			case r.windows != nil:
				n = r.windows.Len()
			default:
				n = r.concs.Len()
			}
			s.Keys, s.MaxKeys = &n, c.MaxKeys
		}
		out = append(out, s)
	}
	return out
}

// limitNames returns the names of the rules that apply to rt.
func (rt *route) limitNames() []string {
	names := make([]string, len(rt.limits))
	for i, r := range rt.limits {
		names[i] = r.name
	}
	return names
}

// RateLimitsHandler serves GET /v1/ratelimits: every rule with its state.
// Setting rules at run time is not offered yet: they come from the file.
func (g *Gateway) RateLimitsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpjson.Error(w, http.StatusMethodNotAllowed, errors.New("use GET"))
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"rate_limits": g.RateLimits()})
	})
}
