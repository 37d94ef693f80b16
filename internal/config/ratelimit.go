package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// RateLimit is one local flow-control rule (docs/flow-control.md): a limit
// on the requests of some routes, as a whole or per key.
type RateLimit struct {
	Name        string       `yaml:"name" required:"true" doc:"Unique name, used in metrics (duohuo_ratelimit_decisions_total{rule}), logs and the admin API (/v1/ratelimits)."`
	Routes      []string     `yaml:"routes" doc:"Names of the routes the rule applies to; with services, the rule applies to the routes of both. Both empty: every route."`
	Services    []string     `yaml:"services" doc:"Names of services: the rule applies to every route that sends to one of them."`
	Key         RateKey      `yaml:"key" doc:"What gets a limit of its own: header:NAME, cookie:NAME or query:NAME (its value; requests without one share the empty key), client_ip (the peer's address, or X-Real-IP as set by a listener's trusted proxy), gray_lane (the request's gray subset). Empty: one limit for all the rule's requests."`
	Rate        Rate         `yaml:"rate" doc:"A token bucket: requests per unit, e.g. 100/s, 6000/m or 5/100ms. Excludes window and concurrency."`
	Burst       int          `yaml:"burst" default:"0" min:"0" max:"100000000" doc:"With rate: the bucket's size, how many requests a bucket that has been full admits at once. 0 means one second's worth of the rate (at least 1)."`
	WarmUp      Duration     `yaml:"warm_up" default:"0s" max:"1h" doc:"With rate: the cold-start ramp (Sentinel's warm-up): a cold limit (at start, or after about this long unused) admits rate/cold_factor and rises to rate over this long while kept busy. 0s: none."`
	ColdFactor  float64      `yaml:"cold_factor" default:"3" min:"1.1" max:"100" doc:"With warm_up: how many times slower a cold limit is (Sentinel's coldFactor 3)."`
	Window      Duration     `yaml:"window" default:"0s" max:"24h" doc:"A sliding window: its length, with requests. Excludes rate and concurrency."`
	Requests    int          `yaml:"requests" default:"0" min:"0" max:"1000000000" doc:"With window: how many requests the sliding window admits."`
	Concurrency int          `yaml:"concurrency" default:"0" min:"0" max:"10000000" doc:"A concurrency limit: requests in flight at once (until their response ends). Excludes rate and window."`
	MaxKeys     int          `yaml:"max_keys" default:"10000" min:"1" max:"10000000" doc:"With key: the most keys tracked; beyond, the key used least recently is forgotten and starts fresh when it comes back."`
	Action      string       `yaml:"action" default:"reject" enum:"reject,queue" doc:"What happens to a request over the limit: reject answers 429 with Retry-After (gRPC: RESOURCE_EXHAUSTED); queue holds it until the limit admits it, for up to max_wait, then rejects it."`
	MaxWait     Duration     `yaml:"max_wait" default:"1s" max:"1m" doc:"With action queue: the longest a request is held."`
	Global      *GlobalLimit `yaml:"global" doc:"Make the rate a limit of all the sites together, not of this gateway: each site counts what it admits per second and learns the others' counts through the replica (needs replication); while it does not hear from every site, it admits only its share (docs/flow-control.md, Global limits). Only with rate and no key."`
}

// GlobalLimit makes a rate a limit across sites.
type GlobalLimit struct {
	Sites int      `yaml:"sites" required:"true" min:"2" max:"64" doc:"How many sites share the limit (one gateway each); a site that hears from fewer than sites-1 others in the last two seconds is cut off and admits only its share."`
	Share Percent  `yaml:"share" default:"0%" min:"0" max:"100" doc:"The share of the rate this site admits while cut off from the others; 0% means an even share, 1/sites. No side of a partition admits the whole limit unless this says so."`
	Flush Duration `yaml:"flush" default:"50ms" min:"10ms" max:"1s" doc:"How often this site's count is written to the replica: the others learn it this much later, plus the replication lag, which bounds the overshoot (docs/flow-control.md)."`
}

func (r *RateLimit) validate(c *checker, path string) {
	c.checkName(join(path, "name"), r.Name)
	kinds := 0
	if r.Rate.Requests > 0 {
		kinds++
	}
	if r.Window > 0 || r.Requests > 0 {
		kinds++
	}
	if r.Concurrency > 0 {
		kinds++
	}
	switch {
	case kinds == 0 && c.failedAt(join(path, "rate")):
		return // the rate's own error says it
	case kinds == 0:
		c.errorf(path, "sets no limit: give rate (e.g. rate: 100/s), window with requests, or concurrency")
		return
	case kinds > 1:
		c.errorf(path, "sets more than one limit: give one of rate, window with requests, and concurrency (write one rule for each)")
		return
	}
	if r.Window > 0 && r.Requests == 0 {
		c.errorf(join(path, "requests"), "is required with window: how many requests the window admits")
	}
	if r.Requests > 0 && r.Window == 0 {
		c.errorf(join(path, "window"), "is required with requests: the window's length, e.g. 1s")
	}
	if r.Window > 0 && r.Window < Duration(time.Millisecond) {
		c.errorf(join(path, "window"), "%s is under 1ms", r.Window)
	}
	if r.Rate.Requests == 0 {
		if r.Burst != 0 {
			c.errorf(join(path, "burst"), "has no use without rate")
		}
		if r.WarmUp != 0 {
			c.errorf(join(path, "warm_up"), "has no use without rate")
		}
	}
	if r.Global != nil {
		switch {
		case r.Rate.Requests == 0:
			c.errorf(join(path, "global"), "needs rate: a global limit is requests per second of all the sites together")
		case r.Key.Kind != "":
			c.errorf(join(path, "global"), "cannot be keyed: remove key, or make the limit local")
		case r.Action == "queue":
			c.errorf(join(path, "action"), "queue is not available with global: a global limit rejects")
		}
	}
	if r.Action == "queue" && r.MaxWait == 0 {
		c.errorf(join(path, "max_wait"), "must be above 0s with action queue")
	}
}

// failedAt reports whether decoding the value at path failed.
func (c *checker) failedAt(path string) bool {
	for _, e := range c.d.errs {
		if e.Path == path {
			return true
		}
	}
	return false
}

// validateRateLimits checks what the rules share with the rest of the file:
// unique names, and routes and services that exist.
func (cfg *Config) validateRateLimits(c *checker) {
	if len(cfg.RateLimits) == 0 {
		return
	}
	routes := make(map[string]int, len(cfg.Routes))
	for i, r := range cfg.Routes {
		routes[r.Name] = i
	}
	services := make(map[string]int, len(cfg.Services))
	for i, s := range cfg.Services {
		services[s.Name] = i
	}
	names := map[string]int{}
	for i, rl := range cfg.RateLimits {
		c.unique(names, "rate_limits", i, "name", rl.Name, "rate limit")
		check := func(list []string, key string, known map[string]int, what string) {
			for j, n := range list {
				if _, ok := known[n]; ok {
					continue
				}
				msg := fmt.Sprintf("unknown %s %q", what, n)
				if s := closest(n, known); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				c.errorf(fmt.Sprintf("rate_limits[%d].%s[%d]", i, key, j), "%s", msg)
			}
		}
		check(rl.Routes, "routes", routes, "route")
		check(rl.Services, "services", services, "service")
	}
}

// Rate is a number of requests per interval, written "100/s", "6000/m",
// "1/h" or with a duration, "5/100ms". The zero Rate is absent.
type Rate struct {
	Requests float64       // per Per; 0 when absent
	Per      time.Duration // the interval; 0 when absent
}

// PerSecond returns the rate in requests per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return r.Requests / r.Per.Seconds()
}

// String returns the rate in the file's syntax, e.g. "100/s".
func (r Rate) String() string {
	if r.Per == 0 {
		return ""
	}
	unit := r.Per.String()
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	}
	return strconv.FormatFloat(r.Requests, 'g', -1, 64) + "/" + unit
}

// MarshalText implements encoding.TextMarshaler.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (r *Rate) UnmarshalText(b []byte) error { return r.parseScalar(string(b)) }

func (r *Rate) parseScalar(text string) error {
	bad := func(why string) error {
		return fmt.Errorf("invalid rate %q: %s; write requests per unit, e.g. 100/s, 6000/m or 5/100ms", text, why)
	}
	num, unit, ok := strings.Cut(strings.TrimSpace(text), "/")
	if !ok {
		return bad("no /")
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return bad("the number of requests is not a number")
	}
	if n <= 0 {
		return bad("the number of requests must be above 0")
	}
	var per time.Duration
	switch u := strings.TrimSpace(unit); u {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		per, err = time.ParseDuration(u)
		if err != nil {
			return bad("the unit is not s, m, h or a duration")
		}
		if per < time.Millisecond {
			return bad("the interval is under 1ms")
		}
	}
	if ps := n / per.Seconds(); ps > 1e9 {
		return bad("above 10⁹ requests per second")
	} else if ps < 1e-6 {
		return bad("under one request in 10⁶ s")
	}
	*r = Rate{Requests: n, Per: per}
	return nil
}

func (r Rate) number() float64 { return r.PerSecond() }

func (Rate) schema() map[string]any {
	return map[string]any{
		"title":    "rate",
		"type":     "string",
		"pattern":  `^\s*([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*/\s*(s|m|h|` + strings.TrimSuffix(strings.TrimPrefix(durationPattern, "^"), `$|\$\{`) + `)\s*$|\$\{`,
		"examples": []any{"100/s", "6000/m", "5/100ms"},
	}
}

// RateKey says what gets a limit of its own in a [RateLimit]: a header's,
// a cookie's or a query parameter's value, the client's address, or the
// gray lane. The zero RateKey is none: one limit for the rule.
type RateKey struct {
	Kind string // "", "header", "cookie", "query", "client_ip" or "gray_lane"
	Name string // the header, cookie or parameter, for the first three
}

// String returns the key in the file's syntax, e.g. "header:X-User-Id".
func (k RateKey) String() string {
	if k.Name != "" {
		return k.Kind + ":" + k.Name
	}
	return k.Kind
}

// MarshalText implements encoding.TextMarshaler.
func (k RateKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (k *RateKey) UnmarshalText(b []byte) error { return k.parseScalar(string(b)) }

func (k *RateKey) parseScalar(text string) error {
	t := strings.TrimSpace(text)
	kind, name, named := strings.Cut(t, ":")
	kind, name = strings.TrimSpace(kind), strings.TrimSpace(name)
	switch kind {
	case "client_ip", "gray_lane":
		if named {
			return fmt.Errorf("invalid key %q: %s takes no name", text, kind)
		}
	case "header", "cookie", "query":
		if name == "" {
			return fmt.Errorf("invalid key %q: name the %s, e.g. %s:%s", text, kind, kind, map[string]string{"header": "X-User-Id", "cookie": "session", "query": "api_key"}[kind])
		}
		if len(name) > 256 {
			return fmt.Errorf("invalid key %q: the name is longer than 256 bytes", text)
		}
		if kind != "query" && !tchars(name) {
			return fmt.Errorf("invalid key %q: %q is not a valid %s name (RFC 9110 token characters)", text, name, kind)
		}
		if kind == "query" && strings.ContainsAny(name, "&=# ") {
			return fmt.Errorf("invalid key %q: a query parameter name has no &, =, # or space", text)
		}
	default:
		return fmt.Errorf("invalid key %q: write header:NAME, cookie:NAME, query:NAME, client_ip or gray_lane", text)
	}
	*k = RateKey{Kind: kind, Name: name}
	return nil
}

func (k RateKey) number() float64 { return 0 }

func (RateKey) schema() map[string]any {
	return map[string]any{
		"title":    "rate limit key",
		"type":     "string",
		"pattern":  `^\s*(client_ip|gray_lane|(header|cookie|query)\s*:\s*\S.*)\s*$|\$\{`,
		"examples": []any{"header:X-User-Id", "client_ip", "gray_lane"},
	}
}

var (
	_ scalar = (*Rate)(nil)
	_ scalar = (*RateKey)(nil)
)
