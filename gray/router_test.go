package gray_test

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/request"
)

// req builds a real *http.Request seen through request.FromHTTP, as the
// gateway sees it.
type req struct {
	target  string // path and query
	headers map[string]string
	cookies map[string]string
	remote  string // "ip:port"
}

func (q req) view() request.View {
	target := q.target
	if target == "" {
		target = "/"
	}
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com"+target, nil)
	for k, v := range q.headers {
		r.Header.Set(k, v)
	}
	for k, v := range q.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	return request.FromHTTP(r)
}

func mustCompile(t testing.TB, p gray.Policy) *gray.Router {
	t.Helper()
	r, err := gray.Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

var twoSubsets = []gray.Subset{
	{Name: "v2", Labels: map[string]string{"version": "v2"}},
	{Name: "gray", Labels: map[string]string{"lane": "gray"}},
}

func TestRoutePrecedence(t *testing.T) {
	p := gray.Policy{
		Subsets: twoSubsets,
		Rules: []gray.Rule{
			{Name: "testers", Subset: "gray", Headers: []gray.Match{{Name: "x-tester", Exact: "yes"}}},
			{Name: "beta-cookie", Subset: "v2", Cookies: []gray.Match{{Name: "beta", Exact: "1"}}},
			{Name: "five-percent", Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: 100}},
		},
		Weights: []gray.Weight{{Subset: "baseline", Weight: 1}, {Subset: "gray", Weight: 1}},
	}
	r := mustCompile(t, p)
	tests := []struct {
		name   string
		req    req
		color  string
		roll   uint64
		subset string
		reason gray.Reason
		rule   int
	}{
		{"a trusted color naming a subset beats every rule", req{headers: map[string]string{"x-tester": "yes"}}, "v2", 0, "v2", gray.ByColor, -1},
		{"a color may name the baseline", req{headers: map[string]string{"x-tester": "yes"}}, "baseline", 0, "baseline", gray.ByColor, -1},
		{"a color naming no subset of the route is ignored", req{headers: map[string]string{"x-tester": "yes"}}, "blue", 0, "gray", gray.ByRule, 0},
		{"the first matching rule wins over later ones", req{headers: map[string]string{"x-tester": "yes", "x-user-id": "u1"}, cookies: map[string]string{"beta": "1"}}, "", 0, "gray", gray.ByRule, 0},
		{"a later rule matches when earlier ones do not", req{cookies: map[string]string{"beta": "1"}}, "", 0, "v2", gray.ByRule, 1},
		{"the user hash rule matches a user in its buckets", req{headers: map[string]string{"x-user-id": "u1"}}, "", 0, "v2", gray.ByRule, 2},
		{"weights split what no rule claimed (first share)", req{}, "", 0, "baseline", gray.ByWeight, -1},
		{"weights split what no rule claimed (second share)", req{}, "", 1, "gray", gray.ByWeight, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := r.RouteRoll(tt.req.view(), tt.color, tt.roll)
			if d.Subset != tt.subset || d.Reason != tt.reason || d.Rule != tt.rule {
				t.Errorf("RouteRoll = %s by %s (rule %d), want %s by %s (rule %d)", d.Subset, d.Reason, d.Rule, tt.subset, tt.reason, tt.rule)
			}
		})
	}
}

func TestRouteWithoutWeightsGoesToBaseline(t *testing.T) {
	r := mustCompile(t, gray.Policy{Subsets: twoSubsets})
	d := r.Route(req{}.view(), "")
	if d.Subset != "baseline" || d.Reason != gray.ByBaseline || d.Index != 2 {
		t.Errorf("Route = %+v, want the implicit baseline (index 2) by baseline", d)
	}
}

func TestMatchers(t *testing.T) {
	tests := []struct {
		name string
		rule gray.Rule
		req  req
		want bool
	}{
		{"header exact matches the same value", gray.Rule{Headers: []gray.Match{{Name: "X-Env", Exact: "canary"}}}, req{headers: map[string]string{"x-env": "canary"}}, true},
		{"header names are case-insensitive", gray.Rule{Headers: []gray.Match{{Name: "x-env", Exact: "canary"}}}, req{headers: map[string]string{"X-ENV": "canary"}}, true},
		{"header exact is case-sensitive in the value", gray.Rule{Headers: []gray.Match{{Name: "x-env", Exact: "canary"}}}, req{headers: map[string]string{"x-env": "Canary"}}, false},
		{"header exact does not match a missing header", gray.Rule{Headers: []gray.Match{{Name: "x-env", Exact: "canary"}}}, req{}, false},
		{"header one_of matches any listed value", gray.Rule{Headers: []gray.Match{{Name: "x-env", OneOf: []string{"a", "b"}}}}, req{headers: map[string]string{"x-env": "b"}}, true},
		{"header one_of does not match an unlisted value", gray.Rule{Headers: []gray.Match{{Name: "x-env", OneOf: []string{"a", "b"}}}}, req{headers: map[string]string{"x-env": "c"}}, false},
		{"header prefix matches a value starting with it", gray.Rule{Headers: []gray.Match{{Name: "user-agent", Prefix: "app/2."}}}, req{headers: map[string]string{"user-agent": "app/2.3"}}, true},
		{"header prefix does not match otherwise", gray.Rule{Headers: []gray.Match{{Name: "user-agent", Prefix: "app/2."}}}, req{headers: map[string]string{"user-agent": "app/1.9"}}, false},
		{"header regex matches the whole value", gray.Rule{Headers: []gray.Match{{Name: "x-region", Regex: "cn-(north|south)-[0-9]"}}}, req{headers: map[string]string{"x-region": "cn-north-1"}}, true},
		{"header regex is anchored at both ends", gray.Rule{Headers: []gray.Match{{Name: "x-region", Regex: "cn-north"}}}, req{headers: map[string]string{"x-region": "cn-north-1"}}, false},
		{"header present matches any non-empty value", gray.Rule{Headers: []gray.Match{{Name: "x-debug", Present: true}}}, req{headers: map[string]string{"x-debug": "1"}}, true},
		{"inverted present matches an absent header", gray.Rule{Headers: []gray.Match{{Name: "x-debug", Present: true, Invert: true}}}, req{}, true},
		{"inverted exact matches another value", gray.Rule{Headers: []gray.Match{{Name: "x-env", Exact: "prod", Invert: true}}}, req{headers: map[string]string{"x-env": "dev"}}, true},
		{"cookie exact matches the cookie's value", gray.Rule{Cookies: []gray.Match{{Name: "beta", Exact: "on"}}}, req{cookies: map[string]string{"beta": "on", "other": "x"}}, true},
		{"cookie exact does not match another cookie", gray.Rule{Cookies: []gray.Match{{Name: "beta", Exact: "on"}}}, req{cookies: map[string]string{"alpha": "on"}}, false},
		{"query exact matches the parameter", gray.Rule{Query: []gray.Match{{Name: "gray", Exact: "true"}}}, req{target: "/x?gray=true"}, true},
		{"query does not match a missing parameter", gray.Rule{Query: []gray.Match{{Name: "gray", Exact: "true"}}}, req{target: "/x?other=true"}, false},
		{"source CIDR matches an address inside it", gray.Rule{Sources: []string{"10.0.0.0/8"}}, req{remote: "10.1.2.3:5000"}, true},
		{"source CIDR does not match an address outside it", gray.Rule{Sources: []string{"10.0.0.0/8"}}, req{remote: "192.0.2.1:5000"}, false},
		{"a single source address matches itself", gray.Rule{Sources: []string{"192.0.2.7"}}, req{remote: "192.0.2.7:1"}, true},
		{"any of several sources matches", gray.Rule{Sources: []string{"10.0.0.0/8", "2001:db8::/32"}}, req{remote: "[2001:db8::1]:80"}, true},
		{"an IPv4-mapped peer matches an IPv4 CIDR", gray.Rule{Sources: []string{"10.0.0.0/8"}}, req{remote: "[::ffff:10.0.0.1]:80"}, true},
		{"user hash at 100 percent matches every user", gray.Rule{UserHash: &gray.UserHash{Header: "x-user-id", Percent: 100}}, req{headers: map[string]string{"x-user-id": "anyone"}}, true},
		{"user hash at 0 percent matches no user", gray.Rule{UserHash: &gray.UserHash{Header: "x-user-id", Percent: 0}}, req{headers: map[string]string{"x-user-id": "anyone"}}, false},
		{"user hash never matches a request without an id", gray.Rule{UserHash: &gray.UserHash{Header: "x-user-id", Percent: 100}}, req{}, false},
		{"user hash reads a cookie when told to", gray.Rule{UserHash: &gray.UserHash{Cookie: "uid", Percent: 100}}, req{cookies: map[string]string{"uid": "u1"}}, true},
		{"baggage exact matches a member's value", gray.Rule{Baggage: []gray.Match{{Name: "tenant", Exact: "acme"}}}, req{headers: map[string]string{"baggage": "userId=alice, tenant = acme;ttl=3,x=1"}}, true},
		{"baggage values are percent-decoded", gray.Rule{Baggage: []gray.Match{{Name: "team", Exact: "red team"}}}, req{headers: map[string]string{"baggage": "team=red%20team"}}, true},
		{"baggage does not match another member", gray.Rule{Baggage: []gray.Match{{Name: "tenant", Exact: "acme"}}}, req{headers: map[string]string{"baggage": "xtenant=acme"}}, false},
		{"baggage skips members it cannot read", gray.Rule{Baggage: []gray.Match{{Name: "tenant", Prefix: "ac"}}}, req{headers: map[string]string{"baggage": "broken,tenant=acme"}}, true},
		{"baggage does not match without the header", gray.Rule{Baggage: []gray.Match{{Name: "tenant", Present: true}}}, req{}, false},
		{"all conditions of a rule must hold", gray.Rule{Headers: []gray.Match{{Name: "a", Exact: "1"}}, Cookies: []gray.Match{{Name: "b", Exact: "2"}}}, req{headers: map[string]string{"a": "1"}}, false},
		{"a rule without conditions matches everything", gray.Rule{}, req{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rule.Subset = "v2"
			r := mustCompile(t, gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{tt.rule}})
			d := r.Route(tt.req.view(), "")
			if got := d.Reason == gray.ByRule; got != tt.want {
				t.Errorf("Route(%+v) matched = %v (%+v), want %v", tt.req, got, d, tt.want)
			}
		})
	}
}

func TestCompileRejectsWithFieldPath(t *testing.T) {
	long := "[a-z]{600}"
	tests := []struct {
		name   string
		policy gray.Policy
		path   string
		msg    string
	}{
		{"an oversized regex program names rule and field", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2"}, {Subset: "v2"}, {Subset: "v2", Headers: []gray.Match{{Name: "x", Regex: long}}}}}, "rules[2].headers[0].regex", "program size"},
		{"an unparsable regex", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", Cookies: []gray.Match{{Name: "x", Regex: "a("}}}}}, "rules[0].cookies[0].regex", "missing closing )"},
		{"a rule to an unknown subset", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v3"}}}, "rules[0].subset", `"v3" is not a subset`},
		{"a match with two operators", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", Query: []gray.Match{{Name: "q", Exact: "a", Prefix: "b"}}}}}, "rules[0].query[0]", "exactly one"},
		{"a match with no operator", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", Headers: []gray.Match{{Name: "q"}}}}}, "rules[0].headers[0]", "exactly one"},
		{"a match without a name", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", Headers: []gray.Match{{Exact: "a"}}}}}, "rules[0].headers[0].name", "missing"},
		{"a percentage finer than 0.01", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: 5.005}}}}, "rules[0].user_hash.percent", "steps of 0.01"},
		{"a percentage above 100", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: 101}}}}, "rules[0].user_hash.percent", "between 0 and 100"},
		{"a user hash with both header and cookie", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", UserHash: &gray.UserHash{Header: "a", Cookie: "b", Percent: 1}}}}, "rules[0].user_hash", "exactly one"},
		{"a bad source", gray.Policy{Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", Sources: []string{"10.0.0.0/33"}}}}, "rules[0].sources[0]", "10.0.0.0/33"},
		{"a subset without labels", gray.Policy{Subsets: []gray.Subset{{Name: "v2"}}}, "subsets[0].labels", "empty"},
		{"a subset defined twice", gray.Policy{Subsets: []gray.Subset{twoSubsets[0], twoSubsets[0]}}, "subsets[1].name", "defined twice"},
		{"a subset name with a space", gray.Policy{Subsets: []gray.Subset{{Name: "v 2", Labels: map[string]string{"a": "b"}}}}, "subsets[0].name", "contains"},
		{"an unknown baseline", gray.Policy{Subsets: twoSubsets, Baseline: "v1"}, "baseline", `"v1" is not a subset`},
		{"an unknown mode", gray.Policy{Mode: "loose"}, "mode", `"loose"`},
		{"a weight to an unknown subset", gray.Policy{Weights: []gray.Weight{{Subset: "v9", Weight: 1}}}, "weights[0].subset", "not a subset"},
		{"a subset weighted twice", gray.Policy{Subsets: twoSubsets, Weights: []gray.Weight{{Subset: "v2", Weight: 1}, {Subset: "v2", Weight: 2}}}, "weights[1].subset", "twice"},
		{"weights that are all zero", gray.Policy{Subsets: twoSubsets, Weights: []gray.Weight{{Subset: "v2"}}}, "weights", "all weights are 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gray.Compile(tt.policy)
			if !errors.Is(err, gray.ErrInvalid) {
				t.Fatalf("Compile error = %v, want one wrapping ErrInvalid", err)
			}
			fes := gray.FieldErrors(err)
			if len(fes) == 0 {
				t.Fatalf("Compile error %v holds no FieldError", err)
			}
			if fes[0].Path != tt.path || !strings.Contains(fes[0].Msg, tt.msg) {
				t.Errorf("Compile first error = %q, want path %q with %q", fes[0], tt.path, tt.msg)
			}
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := gray.Compile(gray.Policy{
		Mode:  "loose",
		Rules: []gray.Rule{{Subset: "x"}, {Subset: "baseline", Headers: []gray.Match{{Name: "h", Regex: "("}}}},
	})
	var paths []string
	for _, fe := range gray.FieldErrors(err) {
		paths = append(paths, fe.Path)
	}
	want := "mode rules[0].subset rules[1].headers[0].regex"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("FieldErrors paths = %q, want %q", got, want)
	}
}

func TestRegexProgramSizeMessage(t *testing.T) {
	// The message must tell the admin how far over the bound they are.
	_, err := gray.Compile(gray.Policy{Rules: []gray.Rule{{Subset: "baseline", Headers: []gray.Match{{Name: "x", Regex: "(ab|cd){300}"}}}}})
	fes := gray.FieldErrors(err)
	if len(fes) != 1 || !strings.HasPrefix(fes[0].Error(), "rules[0].headers[0].regex: program size ") || !strings.HasSuffix(fes[0].Error(), " exceeds 500") {
		t.Errorf("Compile error = %v, want rules[0].headers[0].regex: program size N exceeds 500", err)
	}
}

// TestRouteRollsWeightsPerRequest: unclaimed requests are split by the
// weights (a random roll per request; the bound is 6 standard deviations,
// so a correct split fails about once in 10⁹ runs).
func TestRouteRollsWeightsPerRequest(t *testing.T) {
	r := mustCompile(t, gray.Policy{Subsets: twoSubsets, Weights: []gray.Weight{
		{Subset: "v2", Weight: 1}, {Subset: "gray", Weight: 0}, {Subset: "baseline", Weight: 3},
	}})
	v := req{}.view()
	const n = 20000
	got := map[string]int{}
	for range n {
		d := r.Route(v, "")
		if d.Reason != gray.ByWeight {
			t.Fatalf("Route = %+v, want a decision by weight", d)
		}
		got[d.Subset]++
	}
	sd := math.Sqrt(n * 0.25 * 0.75)
	if got["gray"] != 0 || math.Abs(float64(got["v2"])-n/4) > 6*sd {
		t.Errorf("split over %d requests = %v, want v2 ≈ %d, gray 0, the rest baseline", n, got, n/4)
	}
}

// TestRouteDoesNotAllocate pins the claim of Route's documentation: with a
// view that does not allocate, a decision through every kind of rule
// allocates nothing.
func TestRouteDoesNotAllocate(t *testing.T) {
	r := mustCompile(t, benchPolicy(60))
	headers := map[string]string{"x-user-id": "user-9"}
	for i := range 8 {
		headers["x-h"+string(rune('0'+i))] = "no-match-value"
	}
	v, err := gray.Probe{Headers: headers, Query: map[string]string{"q": "zzz"}, Source: "192.0.2.10"}.View()
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Route(v, ""); d.Rule != 59 {
		t.Fatalf("Route matched rule %d, want the last (59)", d.Rule)
	}
	n := testing.AllocsPerRun(100, func() { r.Route(v, "") })
	if raceEnabled {
		n = 0 // see raceEnabled; the run above still exercises the path
	}
	if n != 0 {
		t.Errorf("Route allocates %v times per decision, want 0", n)
	}
}
