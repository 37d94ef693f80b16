package gray

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Policy is the gray configuration of one route, as data: the instance
// subsets, the ordered rules that send requests to them, plain weights for
// the rest and the baseline. It is what the config file, the admin API and
// [Store.Apply] take; [Compile] turns it into an immutable [Router].
//
// The zero Policy is valid: one implicit baseline subset holding every
// instance, every request routed to it.
type Policy struct {
	// Subsets are the named groups of instances a rule can send traffic to,
	// selected by labels. The names double as lane names: a trusted color
	// equal to a subset's name selects that subset.
	Subsets []Subset `json:"subsets,omitempty" yaml:"subsets,omitempty"`
	// Baseline names the subset that takes what nothing else claims and
	// that colored traffic falls back to. Empty means the implicit subset
	// "baseline": every instance that no other subset selects (Polaris'
	// OnlyUntaggedInstance). An explicit baseline holds only the instances
	// its labels select; instances in no subset then get no traffic from
	// this route.
	Baseline string `json:"baseline,omitempty" yaml:"baseline,omitempty"`
	// Rules are tried in order; the first whose every condition holds wins.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
	// Weights split the requests that no color and no rule claimed.
	// Empty means all of them go to the baseline. Weights are relative
	// (they need not add up to 100); each request rolls independently.
	Weights []Weight `json:"weights,omitempty" yaml:"weights,omitempty"`
	// Mode says what happens when the chosen subset has no healthy
	// instance: [Permissive] (the default) falls back to the baseline,
	// [Strict] fails (the gateway answers 503).
	Mode Mode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Salt is mixed into every user hash of this policy. Policies with the
	// same salt put a given user in the same bucket, so "5% of users" is the
	// same 5% on every route; give an experiment its own salt to draw an
	// independent sample.
	Salt string `json:"salt,omitempty" yaml:"salt,omitempty"`
}

// Subset is a named group of instances: those whose labels include every
// label of Labels.
type Subset struct {
	// Name identifies the subset in rules, weights, decisions, metrics and
	// the response header; it is also the lane name a color refers to.
	// 1 to 63 letters, digits, '-', '_' or '.'.
	Name string `json:"name" yaml:"name"`
	// Labels must all be present, with these values, on an instance of the
	// subset. Empty selects nothing except for the implicit baseline.
	Labels map[string]string `json:"labels" yaml:"labels"`
}

// Rule sends the requests that satisfy all of its conditions to Subset. A
// rule with no condition matches every request (a catch-all).
type Rule struct {
	// Name is for people, logs and dry-run answers; optional.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Subset is where matching requests go.
	Subset string `json:"subset" yaml:"subset"`
	// Headers, Cookies and Query each list conditions on one value of the
	// request; all must hold.
	Headers []Match `json:"headers,omitempty" yaml:"headers,omitempty"`
	Cookies []Match `json:"cookies,omitempty" yaml:"cookies,omitempty"`
	Query   []Match `json:"query,omitempty" yaml:"query,omitempty"`
	// Baggage lists conditions on members of the W3C baggage header
	// (Match.Name is the member's key; the value is percent-decoded), so
	// a rule can route on context set by any upstream service, not only
	// on headers the gateway knows.
	Baggage []Match `json:"baggage,omitempty" yaml:"baggage,omitempty"`
	// Sources are CIDRs ("10.0.0.0/8") or single addresses ("192.0.2.7");
	// the direct peer's address must fall in one of them.
	Sources []string `json:"sources,omitempty" yaml:"sources,omitempty"`
	// UserHash, if set, holds for a stable share of users.
	UserHash *UserHash `json:"user_hash,omitempty" yaml:"user_hash,omitempty"`
}

// Match is a condition on one named header, cookie or query parameter.
// Exactly one of Exact, OneOf, Prefix, Regex or Present must be set.
// A missing value never matches, except as described for Absent.
type Match struct {
	// Name is the header, cookie or query parameter (header names are
	// case-insensitive, the others are not).
	Name string `json:"name" yaml:"name"`
	// Exact holds when the value equals it.
	Exact string `json:"exact,omitempty" yaml:"exact,omitempty"`
	// OneOf holds when the value equals any of its elements.
	OneOf []string `json:"one_of,omitempty" yaml:"one_of,omitempty"`
	// Prefix holds when the value starts with it.
	Prefix string `json:"prefix,omitempty" yaml:"prefix,omitempty"`
	// Regex holds when the whole value matches this RE2 expression (it is
	// anchored at both ends, as Istio does). Its compiled program must not
	// exceed [MaxRegexProgram] instructions.
	Regex string `json:"regex,omitempty" yaml:"regex,omitempty"`
	// Present holds when the value is not empty.
	Present bool `json:"present,omitempty" yaml:"present,omitempty"`
	// Invert negates the condition (so an inverted Present holds when the
	// value is absent).
	Invert bool `json:"invert,omitempty" yaml:"invert,omitempty"`
}

// UserHash holds for a stable Percent of users, identified by the value of
// a header or a cookie. The user's bucket is hash(salt, id) mod 10000
// ([Bucket]); the rule holds when the bucket is below Percent × 100, so
// raising Percent only adds users and every gateway agrees.
type UserHash struct {
	// Header or Cookie (exactly one) names where the user id is read.
	// A request without one never matches.
	Header string `json:"header,omitempty" yaml:"header,omitempty"`
	Cookie string `json:"cookie,omitempty" yaml:"cookie,omitempty"`
	// Percent is 0 to 100 in steps of 0.01.
	Percent float64 `json:"percent" yaml:"percent"`
}

// Weight gives a subset a relative share of the unclaimed requests.
type Weight struct {
	Subset string `json:"subset" yaml:"subset"` // a subset's name, the baseline included
	Weight uint32 `json:"weight" yaml:"weight"` // relative; 0 gives no share; at most 1e6
}

// Mode is what a lane does when it has no healthy instance for a service.
type Mode string

// The lane modes, as Polaris names them.
const (
	// Permissive falls back to the baseline subset when the chosen one has
	// no healthy instance; the next hop can enter the lane again (ASM's
	// relaxed lanes).
	Permissive Mode = "permissive"
	// Strict fails the request (503) instead: every lane must hold every
	// service it is used with.
	Strict Mode = "strict"
)

// DefaultBaseline is the name of the implicit baseline subset.
const DefaultBaseline = "baseline"

// Limits checked by [Compile]. They bound the cost of one decision and of a
// policy's memory, whatever an admin sends.
const (
	// MaxRegexProgram is the largest compiled RE2 program, in instructions,
	// that a Match.Regex may have.
	MaxRegexProgram = 500
	// MaxRegexLen is the longest Match.Regex source, in bytes.
	MaxRegexLen = 1024
	// MaxRules is the most rules a policy may have.
	MaxRules = 1000
	// MaxConditions is the most headers, cookies, query matches and sources
	// one rule may have, each counted separately.
	MaxConditions = 32
	// MaxSubsets is the most subsets a policy may have.
	MaxSubsets = 64
)

// ParsePolicy decodes a JSON policy, refusing unknown fields so that a typo
// is an error rather than a rule that silently matches everything. It does
// not validate; [Compile] does.
func ParsePolicy(data []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("gray: decode policy: %w", err)
	}
	// Token, not More: More reports false before a stray ']' or '}'.
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, fmt.Errorf("gray: decode policy: trailing data after the object")
	}
	return p, nil
}
