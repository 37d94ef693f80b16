package fault

import (
	"errors"
	"fmt"
	"strings"
)

// Rule applies a [Spec] to the requests it matches. A request matches when
// every set field matches; the zero match fields match every request.
type Rule struct {
	// Name identifies the rule in the admin API, metrics and logs: letters,
	// digits, '-', '_' and '.', at most 64 bytes, unique in a [Table].
	Name string `json:"name"`
	// Host matches the request host exactly (lower case, no port); "" any.
	Host string `json:"host,omitempty"`
	// PathPrefix matches paths that start with it; "" is "/", every path.
	PathPrefix string `json:"path_prefix,omitempty"`
	// Methods, if not empty, lists the methods that match (upper case).
	Methods []string `json:"methods,omitempty"`
	Spec    Spec     `json:"spec"`
}

// Table is the whole fault configuration of a [Filter]: its rules, tried in
// order (the first match decides), and a cap on concurrent faults. The zero
// Table injects nothing.
type Table struct {
	// MaxActive caps the requests being delayed or aborted at one time, as
	// Envoy's max_active_faults does, so that header-triggered faults from
	// many clients cannot tie up the gateway; 0 means no cap. A request over
	// the cap passes untouched and is counted as [KindOverflow].
	MaxActive int    `json:"max_active,omitempty"`
	Rules     []Rule `json:"rules"`
}

// ErrNoRule is returned by [Filter.DeleteRule] for an unknown rule name.
var ErrNoRule = errors.New("no such fault rule")

// Validate reports the first problem in t, naming the rule; the error wraps
// [ErrInvalidSpec].
func (t Table) Validate() error {
	if t.MaxActive < 0 {
		return fmt.Errorf("%w: max_active %d is negative", ErrInvalidSpec, t.MaxActive)
	}
	seen := make(map[string]bool, len(t.Rules))
	for i, r := range t.Rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rules[%d]: %w", i, err)
		}
		if seen[r.Name] {
			return fmt.Errorf("rules[%d] %q: %w: name used twice", i, r.Name, ErrInvalidSpec)
		}
		seen[r.Name] = true
	}
	return nil
}

// Validate reports whether r is usable; the error names r and wraps
// [ErrInvalidSpec].
func (r Rule) Validate() error {
	if err := validName(r.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	if r.Host != strings.ToLower(r.Host) || strings.ContainsAny(r.Host, ":/ ") {
		return fmt.Errorf("rule %q: %w: host %q: want a lower-case host name without port", r.Name, ErrInvalidSpec, r.Host)
	}
	if r.PathPrefix != "" && r.PathPrefix[0] != '/' {
		return fmt.Errorf("rule %q: %w: path_prefix %q does not start with /", r.Name, ErrInvalidSpec, r.PathPrefix)
	}
	for _, m := range r.Methods {
		if m == "" || m != strings.ToUpper(m) || strings.ContainsAny(m, " \t") {
			return fmt.Errorf("rule %q: %w: method %q: want an upper-case token", r.Name, ErrInvalidSpec, m)
		}
	}
	if err := r.Spec.Validate(); err != nil {
		return fmt.Errorf("rule %q: %w", r.Name, err)
	}
	return nil
}

func validName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("rule name %q: want 1 to 64 bytes", s)
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("rule name %q: character %q not allowed", s, c)
		}
	}
	return nil
}

// ParseTable reads a Table from JSON, refusing unknown fields, and validates
// it. Specs may be objects or compact strings (see [ParseSpec]):
//
//	{"max_active": 10, "rules": [
//	  {"name": "slow-checkout", "path_prefix": "/checkout", "spec": "delay=200ms@10%"},
//	  {"name": "flaky-api", "host": "api.example.com",
//	   "spec": {"abort": {"status": 503, "percent": 5}, "header_trigger": true}}]}
func ParseTable(data []byte) (Table, error) {
	// The admin API's GET answer also says which rules are run-time
	// changes and when they expire; those fields are accepted and
	// ignored, so that what GET gave can be PUT back.
	var v struct {
		Table
		SetAtRunTime     []string          `json:"set_at_run_time"`
		DeletedAtRunTime []string          `json:"deleted_at_run_time"`
		Expires          map[string]string `json:"expires"`
	}
	if err := decodeObject(data, &v); err != nil {
		return Table{}, err
	}
	t := v.Table
	if err := t.Validate(); err != nil {
		return Table{}, err
	}
	return t, nil
}

// ParseRule reads one Rule from JSON and validates it.
func ParseRule(data []byte) (Rule, error) {
	var r Rule
	if err := decodeObject(data, &r); err != nil {
		return Rule{}, err
	}
	if err := r.Validate(); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// matchesPath reports whether the rule's method and path conditions hold;
// the caller checks the host.
func (r *Rule) matchesPath(method, path string) bool {
	if !strings.HasPrefix(path, r.PathPrefix) {
		return false
	}
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// clone returns a deep copy, so that a Table handed in or out shares no
// memory with the filter's snapshot.
func (t Table) clone() Table {
	c := Table{MaxActive: t.MaxActive, Rules: make([]Rule, len(t.Rules))}
	for i, r := range t.Rules {
		r.Methods = append([]string(nil), r.Methods...)
		if r.Spec.Delay != nil {
			d := *r.Spec.Delay
			r.Spec.Delay = &d
		}
		if r.Spec.Abort != nil {
			a := *r.Spec.Abort
			r.Spec.Abort = &a
		}
		c.Rules[i] = r
	}
	return c
}
