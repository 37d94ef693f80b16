package gray

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Compile validates p and builds its [Router]. Every problem is reported,
// each as a [*FieldError] naming the field ("rules[2].headers[0].regex:
// program size 612 exceeds 500"), joined into one error that wraps
// [ErrInvalid]; [FieldErrors] lists them. Regexes are compiled and bounded
// here, never on the request path.
func Compile(p Policy) (*Router, error) {
	c := compiler{r: &Router{byName: map[string]int{}}}
	c.compile(p)
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	c.r.policy = clonePolicy(p)
	return c.r, nil
}

type compiler struct {
	r    *Router
	errs []error
}

func (c *compiler) fail(path, format string, args ...any) {
	c.errs = append(c.errs, fieldErr(path, format, args...))
}

func (c *compiler) compile(p Policy) {
	r := c.r
	switch p.Mode {
	case "", Permissive:
		r.mode = Permissive
	case Strict:
		r.mode = Strict
	default:
		c.fail("mode", "%q is neither %q nor %q", p.Mode, Permissive, Strict)
	}
	r.salt = p.Salt
	if len(p.Salt) > 256 {
		c.fail("salt", "longer than 256 bytes")
	}

	if len(p.Subsets) > MaxSubsets {
		c.fail("subsets", "%d subsets exceed %d", len(p.Subsets), MaxSubsets)
	}
	for i, s := range p.Subsets {
		path := fmt.Sprintf("subsets[%d]", i)
		if err := CheckName(s.Name); err != nil {
			c.fail(path+".name", "%v", err)
		} else if _, dup := r.byName[s.Name]; dup {
			c.fail(path+".name", "%q is defined twice", s.Name)
		}
		if len(s.Labels) == 0 {
			c.fail(path+".labels", "empty: a subset must select on at least one label")
		}
		for k := range s.Labels {
			if k == "" {
				c.fail(path+".labels", "empty label name")
			}
		}
		r.byName[s.Name] = len(r.subsets)
		r.subsets = append(r.subsets, subset{name: s.Name, labels: cloneMap(s.Labels)})
	}
	base := p.Baseline
	if base == "" {
		base = DefaultBaseline
	}
	if i, ok := r.byName[base]; ok {
		r.baseline = i
	} else if p.Baseline != "" {
		c.fail("baseline", "%q is not a subset", p.Baseline)
	} else {
		r.baseline = len(r.subsets)
		r.byName[base] = r.baseline
		r.subsets = append(r.subsets, subset{name: base, implicit: true})
	}

	if len(p.Rules) > MaxRules {
		c.fail("rules", "%d rules exceed %d", len(p.Rules), MaxRules)
	}
	for i, pr := range p.Rules {
		c.rule(fmt.Sprintf("rules[%d]", i), pr)
	}

	seen := map[string]bool{}
	for i, w := range p.Weights {
		path := fmt.Sprintf("weights[%d]", i)
		idx, ok := r.byName[w.Subset]
		if !ok {
			c.fail(path+".subset", "%q is not a subset", w.Subset)
			continue
		}
		if seen[w.Subset] {
			c.fail(path+".subset", "%q is weighted twice", w.Subset)
		}
		seen[w.Subset] = true
		if w.Weight > maxWeight {
			c.fail(path+".weight", "%d exceeds %d", w.Weight, maxWeight)
			continue
		}
		if w.Weight == 0 {
			continue
		}
		r.total += uint64(w.Weight)
		r.weights = append(r.weights, cumWeight{upTo: r.total, subset: idx})
	}
	if len(p.Weights) > 0 && r.total == 0 && len(c.errs) == 0 {
		c.fail("weights", "all weights are 0; leave the list empty to send the rest to the baseline")
	}
}

const maxWeight = 1_000_000

func (c *compiler) rule(path string, pr Rule) {
	r := c.r
	cr := rule{name: pr.Name}
	if len(pr.Name) > 128 {
		c.fail(path+".name", "longer than 128 bytes")
	}
	idx, ok := r.byName[pr.Subset]
	if !ok {
		if pr.Subset == "" {
			c.fail(path+".subset", "missing")
		} else {
			c.fail(path+".subset", "%q is not a subset", pr.Subset)
		}
	}
	cr.subset = idx
	for _, group := range [...]struct {
		field string
		src   source
		ms    []Match
	}{{"headers", fromHeader, pr.Headers}, {"cookies", fromCookie, pr.Cookies}, {"query", fromQuery, pr.Query}, {"baggage", fromBaggage, pr.Baggage}} {
		if len(group.ms) > MaxConditions {
			c.fail(path+"."+group.field, "%d conditions exceed %d", len(group.ms), MaxConditions)
			continue
		}
		for j, m := range group.ms {
			if cd, ok := c.match(fmt.Sprintf("%s.%s[%d]", path, group.field, j), group.src, m); ok {
				cr.conds = append(cr.conds, cd)
			}
		}
	}
	if len(pr.Sources) > MaxConditions {
		c.fail(path+".sources", "%d sources exceed %d", len(pr.Sources), MaxConditions)
	} else {
		for j, s := range pr.Sources {
			pfx, err := parseSource(s)
			if err != nil {
				c.fail(fmt.Sprintf("%s.sources[%d]", path, j), "%v", err)
				continue
			}
			cr.sources = append(cr.sources, pfx)
		}
	}
	if uh := pr.UserHash; uh != nil {
		hp := path + ".user_hash"
		switch {
		case (uh.Header == "") == (uh.Cookie == ""):
			c.fail(hp, "set exactly one of header and cookie")
		case len(uh.Header)+len(uh.Cookie) > 256:
			c.fail(hp, "name longer than 256 bytes")
		}
		n, ok := percentBuckets(uh.Percent)
		if !ok {
			c.fail(hp+".percent", "%v is not between 0 and 100 in steps of 0.01", uh.Percent)
		}
		cr.hash = &hashCond{buckets: n, cookie: uh.Cookie}
		if uh.Header != "" {
			cr.hash.header = http.CanonicalHeaderKey(uh.Header)
		}
	}
	r.rules = append(r.rules, cr)
}

func (c *compiler) match(path string, src source, m Match) (cond, bool) {
	cd := cond{src: src, name: m.Name, invert: m.Invert}
	ok := true
	switch {
	case m.Name == "":
		c.fail(path+".name", "missing")
		ok = false
	case len(m.Name) > 256:
		c.fail(path+".name", "longer than 256 bytes")
		ok = false
	}
	if src == fromHeader {
		cd.name = http.CanonicalHeaderKey(m.Name)
	}
	set := 0
	if m.Exact != "" {
		set++
		cd.op, cd.s = opExact, m.Exact
	}
	if len(m.OneOf) > 0 {
		set++
		cd.op, cd.set = opOneOf, append([]string(nil), m.OneOf...)
		if len(m.OneOf) > MaxConditions {
			c.fail(path+".one_of", "%d values exceed %d", len(m.OneOf), MaxConditions)
			ok = false
		}
	}
	if m.Prefix != "" {
		set++
		cd.op, cd.s = opPrefix, m.Prefix
	}
	if m.Regex != "" {
		set++
		re, err := compileRegex(m.Regex)
		if err != nil {
			c.fail(path+".regex", "%v", err)
			ok = false
		}
		cd.op, cd.re = opRegex, re
	}
	if m.Present {
		set++
		cd.op = opPresent
	}
	if set != 1 {
		c.fail(path, "set exactly one of exact, one_of, prefix, regex and present (%d set)", set)
		ok = false
	}
	return cd, ok
}

// compileRegex compiles expr anchored at both ends and refuses programs
// larger than MaxRegexProgram: RE2 runs in time linear in the input, but
// the constant is the program's size, and the policy comes from an admin
// API.
func compileRegex(expr string) (*regexp.Regexp, error) {
	if len(expr) > MaxRegexLen {
		return nil, fmt.Errorf("%d bytes exceed %d", len(expr), MaxRegexLen)
	}
	anchored := `^(?:` + expr + `)$`
	sre, err := syntax.Parse(anchored, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(sre.Simplify())
	if err != nil {
		return nil, err
	}
	if n := len(prog.Inst); n > MaxRegexProgram {
		return nil, fmt.Errorf("program size %d exceeds %d", n, MaxRegexProgram)
	}
	return regexp.Compile(anchored)
}

func parseSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !p.IsValid() {
			return netip.Prefix{}, fmt.Errorf("%q is not a valid prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// CheckName reports whether s can name a subset (and so a lane): 1 to 63
// letters, digits, '-', '_' or '.'. These need no escaping in a header, a
// baggage value or a metric label.
func CheckName(s string) error {
	if s == "" || len(s) > 63 {
		return fmt.Errorf("name %q must have 1 to 63 characters", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("name %q contains %q; use letters, digits, '-', '_' and '.'", s, c)
		}
	}
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func clonePolicy(p Policy) Policy {
	q := p
	q.Subsets = make([]Subset, len(p.Subsets))
	for i, s := range p.Subsets {
		q.Subsets[i] = Subset{Name: s.Name, Labels: cloneMap(s.Labels)}
	}
	q.Rules = make([]Rule, len(p.Rules))
	for i, r := range p.Rules {
		nr := r
		nr.Headers = cloneMatches(r.Headers)
		nr.Cookies = cloneMatches(r.Cookies)
		nr.Query = cloneMatches(r.Query)
		nr.Baggage = cloneMatches(r.Baggage)
		nr.Sources = append([]string(nil), r.Sources...)
		if r.UserHash != nil {
			uh := *r.UserHash
			nr.UserHash = &uh
		}
		q.Rules[i] = nr
	}
	q.Weights = append([]Weight(nil), p.Weights...)
	if len(q.Subsets) == 0 {
		q.Subsets = nil
	}
	if len(q.Rules) == 0 {
		q.Rules = nil
	}
	return q
}

// cloneMatches copies ms; an empty list becomes nil, so that a policy read
// back ("headers" left out) equals the one applied ("headers": []) and
// applying it again is no change.
func cloneMatches(ms []Match) []Match {
	if len(ms) == 0 {
		return nil
	}
	out := make([]Match, len(ms))
	for i, m := range ms {
		m.OneOf = append([]string(nil), m.OneOf...)
		out[i] = m
	}
	return out
}
