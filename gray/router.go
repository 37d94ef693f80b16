package gray

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/request"
)

// Router is a compiled [Policy]: the immutable decision table of one route.
// It is safe for concurrent use; a new policy means a new Router, swapped in
// whole (see [Store]), so a request keeps the Router it started with.
type Router struct {
	policy   Policy
	subsets  []subset
	byName   map[string]int
	baseline int
	rules    []rule
	weights  []cumWeight
	total    uint64
	mode     Mode
	salt     string
}

type subset struct {
	name     string
	labels   map[string]string
	implicit bool // the implicit baseline: instances no other subset selects
}

type cumWeight struct {
	upTo   uint64
	subset int
}

type rule struct {
	name    string
	subset  int
	conds   []cond
	sources []netip.Prefix
	hash    *hashCond
}

type hashCond struct {
	header, cookie string
	buckets        uint32
}

type source uint8

const (
	fromHeader source = iota
	fromCookie
	fromQuery
	fromBaggage
)

type op uint8

const (
	opExact op = iota
	opOneOf
	opPrefix
	opRegex
	opPresent
)

type cond struct {
	src    source
	op     op
	invert bool
	name   string
	s      string
	set    []string
	re     interface{ MatchString(string) bool }
}

// Reason says which step of the precedence chose a subset.
type Reason uint8

// The steps of the precedence, in order.
const (
	// ByColor: a trusted incoming color named one of the route's subsets.
	ByColor Reason = iota + 1
	// ByRule: a rule matched; Decision.Rule is its index.
	ByRule
	// ByWeight: no color and no rule; the weights split the request.
	ByWeight
	// ByBaseline: nothing claimed the request.
	ByBaseline
	// ByFallback: the chosen subset had no healthy instance and the
	// permissive policy fell back to the baseline.
	ByFallback
)

var reasonNames = [...]string{"", "color", "rule", "weight", "baseline", "fallback"}

// String returns "color", "rule", "weight", "baseline" or "fallback".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// MarshalText encodes r as its String.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes a Reason's String.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, name := range reasonNames {
		if i > 0 && name == string(b) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("gray: unknown reason %q", b)
}

// Decision is where a request goes. It is a small value; making one does
// not allocate.
type Decision struct {
	// Subset is the chosen subset's name (the lane, for coloring and for
	// the response header).
	Subset string `json:"subset"`
	// Index is the subset's position in [Router.Subsets] (and in the
	// result of [Router.Partition]).
	Index int `json:"index"`
	// Rule is the index of the matching rule, or -1.
	Rule int `json:"rule"`
	// RuleName is that rule's name, if it has one.
	RuleName string `json:"rule_name,omitempty"`
	// Reason is the step of the precedence that decided.
	Reason Reason `json:"reason"`
}

// Route decides the subset of the request v whose trusted color (lane
// name, "" if none; see package color) is color. The precedence is:
//
//  1. a color naming a subset of this route picks it (a lane the route
//     does not have is ignored: the request is routed as if uncolored,
//     and keeps its color for the next hop);
//  2. the rules, in order: the first whose every condition holds;
//  3. the weights, rolled per request;
//  4. the baseline.
//
// Route does not allocate (beyond what v's methods do) and is safe for
// concurrent use.
func (r *Router) Route(v request.View, color string) Decision {
	return r.route(v, color, 0, true)
}

// RouteRoll is Route with the weight roll given (any uint64; it is reduced
// modulo the total weight), for reproducible tests and simulations.
func (r *Router) RouteRoll(v request.View, color string, roll uint64) Decision {
	return r.route(v, color, roll, false)
}

func (r *Router) route(v request.View, color string, roll uint64, random bool) Decision {
	if color != "" {
		if i, ok := r.byName[color]; ok {
			return Decision{Subset: r.subsets[i].name, Index: i, Rule: -1, Reason: ByColor}
		}
	}
	for i := range r.rules {
		ru := &r.rules[i]
		if ru.matches(v, r.salt) {
			return Decision{Subset: r.subsets[ru.subset].name, Index: ru.subset, Rule: i, RuleName: ru.name, Reason: ByRule}
		}
	}
	if r.total > 0 {
		if random {
			roll = rand.Uint64()
		}
		x := roll % r.total
		for _, w := range r.weights {
			if x < w.upTo {
				return Decision{Subset: r.subsets[w.subset].name, Index: w.subset, Rule: -1, Reason: ByWeight}
			}
		}
	}
	return r.baselineDecision(ByBaseline)
}

func (r *Router) baselineDecision(why Reason) Decision {
	return Decision{Subset: r.subsets[r.baseline].name, Index: r.baseline, Rule: -1, Reason: why}
}

// Fallback returns where d goes when d's subset has no healthy instance:
// the baseline, with Reason [ByFallback], under a [Permissive] policy;
// ok is false under a [Strict] policy or when d already is the baseline
// (the gateway then answers 503).
func (r *Router) Fallback(d Decision) (_ Decision, ok bool) {
	if r.mode == Strict || d.Index == r.baseline {
		return Decision{}, false
	}
	return r.baselineDecision(ByFallback), true
}

func (ru *rule) matches(v request.View, salt string) bool {
	for i := range ru.conds {
		if !ru.conds[i].holds(v) {
			return false
		}
	}
	if len(ru.sources) > 0 {
		a := v.RemoteAddr().Unmap()
		in := false
		for _, p := range ru.sources {
			if p.Contains(a) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	if h := ru.hash; h != nil {
		var id string
		if h.header != "" {
			id = v.Header(h.header)
		} else {
			id = v.Cookie(h.cookie)
		}
		if id == "" || Bucket(salt, id) >= h.buckets {
			return false
		}
	}
	return true
}

func (c *cond) holds(v request.View) bool {
	var val string
	switch c.src {
	case fromHeader:
		val = v.Header(c.name)
	case fromCookie:
		val = v.Cookie(c.name)
	case fromQuery:
		val = v.Query(c.name)
	default:
		val, _ = color.BaggageValue(v.Header("Baggage"), c.name)
	}
	var ok bool
	switch c.op {
	case opExact:
		ok = val != "" && val == c.s
	case opOneOf:
		for _, s := range c.set {
			if val == s && val != "" {
				ok = true
				break
			}
		}
	case opPrefix:
		ok = val != "" && strings.HasPrefix(val, c.s)
	case opRegex:
		ok = val != "" && c.re.MatchString(val)
	case opPresent:
		ok = val != ""
	}
	return ok != c.invert
}

// Subsets returns the names of the route's subsets, the baseline included
// (last, when it is implicit). The slice is fresh; index i is
// Decision.Index i.
func (r *Router) Subsets() []string {
	out := make([]string, len(r.subsets))
	for i, s := range r.subsets {
		out[i] = s.name
	}
	return out
}

// Baseline returns the name of the baseline subset.
func (r *Router) Baseline() string { return r.subsets[r.baseline].name }

// Mode returns the policy's lane mode, [Permissive] or [Strict].
func (r *Router) Mode() Mode { return r.mode }

// Policy returns a copy of the policy r was compiled from.
func (r *Router) Policy() Policy { return clonePolicy(r.policy) }

// Matches reports whether an instance with these labels belongs to s:
// every label of s is present with the same value. A subset without labels
// matches nothing ([Router.Partition] handles the implicit baseline).
func (s Subset) Matches(labels map[string]string) bool {
	if len(s.Labels) == 0 {
		return false
	}
	return labelsMatch(s.Labels, labels)
}

func labelsMatch(want, have map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Partition splits instances by subset: out[i] holds the instances of
// subset i ([Router.Subsets], Decision.Index). An instance may belong to
// several explicit subsets; the implicit baseline holds exactly the
// instances that no explicit subset selects. The gateway builds one
// balancer per subset from the result, off the request path.
func (r *Router) Partition(instances []discovery.Instance) [][]discovery.Instance {
	out := make([][]discovery.Instance, len(r.subsets))
	for _, in := range instances {
		claimed := false
		for i, s := range r.subsets {
			if s.implicit {
				continue
			}
			if labelsMatch(s.labels, in.Labels) {
				out[i] = append(out[i], in)
				claimed = true
			}
		}
		if !claimed && r.subsets[r.baseline].implicit {
			out[r.baseline] = append(out[r.baseline], in)
		}
	}
	return out
}
