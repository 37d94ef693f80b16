package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const rateLimitBase = service + "routes:\n  - name: orders\n    service: api\n"

// rateLimitErrorCases are invalid rate_limits sections and what Parse says
// about them, with the place; they also seed FuzzParseRateLimits.
var rateLimitErrorCases = []struct {
	name string
	yaml string
	want []wantErr
}{
	{
		name: "a rule without a limit",
		yaml: "rate_limits:\n  - name: r\n    routes: [orders]\n",
		want: []wantErr{{11, 5, "rate_limits[0]", "sets no limit"}},
	},
	{
		name: "a rule with two limits",
		yaml: "rate_limits:\n  - name: r\n    rate: 10/s\n    concurrency: 3\n",
		want: []wantErr{{11, 5, "rate_limits[0]", "sets more than one limit"}},
	},
	{
		name: "a rate without a unit",
		yaml: "rate_limits:\n  - name: r\n    rate: 100\n",
		want: []wantErr{{12, 11, "rate_limits[0].rate", `invalid rate "100": no /`}},
	},
	{
		name: "a rate of zero",
		yaml: "rate_limits:\n  - name: r\n    rate: 0/s\n",
		want: []wantErr{{12, 11, "rate_limits[0].rate", "must be above 0"}},
	},
	{
		name: "a rate with an unknown unit",
		yaml: "rate_limits:\n  - name: r\n    rate: 5/day\n",
		want: []wantErr{{12, 11, "rate_limits[0].rate", "the unit is not s, m, h or a duration"}},
	},
	{
		name: "a window without requests",
		yaml: "rate_limits:\n  - name: r\n    window: 1s\n",
		want: []wantErr{{11, 5, "rate_limits[0].requests", "is required with window"}},
	},
	{
		name: "requests without a window",
		yaml: "rate_limits:\n  - name: r\n    requests: 5\n",
		want: []wantErr{{11, 5, "rate_limits[0].window", "is required with requests"}},
	},
	{
		name: "warm_up without a rate",
		yaml: "rate_limits:\n  - name: r\n    concurrency: 2\n    warm_up: 10s\n",
		want: []wantErr{{13, 14, "rate_limits[0].warm_up", "has no use without rate"}},
	},
	{
		name: "queue without max_wait",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n    action: queue\n    max_wait: 0s\n",
		want: []wantErr{{14, 15, "rate_limits[0].max_wait", "must be above 0s with action queue"}},
	},
	{
		name: "an unknown action",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n    action: drop\n",
		want: []wantErr{{13, 13, "rate_limits[0].action", `"drop" is not one of reject, queue`}},
	},
	{
		name: "an unknown key kind",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n    key: user\n",
		want: []wantErr{{13, 10, "rate_limits[0].key", "write header:NAME, cookie:NAME, query:NAME, client_ip or gray_lane"}},
	},
	{
		name: "a header key without a name",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n    key: \"header:\"\n",
		want: []wantErr{{13, 10, "rate_limits[0].key", "name the header, e.g. header:X-User-Id"}},
	},
	{
		name: "an unknown route, with a suggestion",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n    routes: [order]\n",
		want: []wantErr{{13, 14, "rate_limits[0].routes[0]", `unknown route "order"; did you mean "orders"?`}},
	},
	{
		name: "an unknown service",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n    services: [billing]\n",
		want: []wantErr{{13, 16, "rate_limits[0].services[0]", `unknown service "billing"`}},
	},
	{
		name: "two rules of one name",
		yaml: "rate_limits:\n  - name: r\n    rate: 1/s\n  - name: r\n    rate: 2/s\n",
		want: []wantErr{{13, 11, "rate_limits[1].name", `duplicate rate limit name "r" (first at rate_limits[0].name)`}},
	},
}

func TestRateLimitErrors(t *testing.T) {
	for _, tt := range rateLimitErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			text := rateLimitBase + tt.yaml
			cfg, err := parse("test.yaml", []byte(text), testEnv)
			if err == nil {
				t.Fatalf("parse(%q) = %+v, nil; want errors %+v", text, cfg.RateLimits, tt.want)
			}
			var got []wantErr
			for i, e := range errorsOf(t, err) {
				g := wantErr{e.Line, e.Col, e.Path, e.Msg}
				if i < len(tt.want) && strings.Contains(e.Msg, tt.want[i].Msg) {
					g.Msg = tt.want[i].Msg
				}
				got = append(got, g)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parse(%q) errors (-want +got):\n%s\nall:\n%v", tt.yaml, diff, err)
			}
		})
	}
}

func TestRateLimitParse(t *testing.T) {
	text := rateLimitBase + `rate_limits:
  - name: per-user
    routes: [orders]
    key: header:X-User-Id
    rate: 6000/m
    warm_up: 10s
  - name: slow-backend
    services: [api]
    concurrency: 8
    action: queue
    max_wait: 250ms
  - name: per-ip
    key: client_ip
    window: 10s
    requests: 50
    max_keys: 500
`
	cfg, err := parse("test.yaml", []byte(text), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []RateLimit{
		{Name: "per-user", Routes: []string{"orders"}, Key: RateKey{"header", "X-User-Id"}, Rate: Rate{6000, time.Minute}, WarmUp: Duration(10 * time.Second), ColdFactor: 3, MaxKeys: 10000, Action: "reject", MaxWait: Duration(time.Second)},
		{Name: "slow-backend", Services: []string{"api"}, Concurrency: 8, ColdFactor: 3, MaxKeys: 10000, Action: "queue", MaxWait: Duration(250 * time.Millisecond)},
		{Name: "per-ip", Key: RateKey{Kind: "client_ip"}, Window: Duration(10 * time.Second), Requests: 50, ColdFactor: 3, MaxKeys: 500, Action: "reject", MaxWait: Duration(time.Second)},
	}
	if diff := cmp.Diff(want, cfg.RateLimits); diff != "" {
		t.Errorf("rate_limits (-want +got):\n%s", diff)
	}
	if got := cfg.RateLimits[0].Rate.PerSecond(); got != 100 {
		t.Errorf("6000/m PerSecond = %v, want 100", got)
	}
}

func TestRateScalars(t *testing.T) {
	for _, tc := range []struct {
		in        string
		perSecond float64
		text      string
	}{
		{"100/s", 100, "100/s"},
		{" 6000 / m ", 100, "6000/m"},
		{"1/h", 1.0 / 3600, "1/h"},
		{"5/100ms", 50, "5/100ms"},
		{"0.5/s", 0.5, "0.5/s"},
		{"30/1m30s", 1.0 / 3, "30/1m30s"},
	} {
		var r Rate
		if err := r.parseScalar(tc.in); err != nil {
			t.Errorf("Rate(%q): %v", tc.in, err)
			continue
		}
		if got := r.PerSecond(); got-tc.perSecond > 1e-12 || tc.perSecond-got > 1e-12 {
			t.Errorf("Rate(%q).PerSecond = %v, want %v", tc.in, got, tc.perSecond)
		}
		if got := r.String(); got != tc.text {
			t.Errorf("Rate(%q).String = %q, want %q", tc.in, got, tc.text)
		}
	}
	for _, in := range []string{"", "/s", "1/", "x/s", "NaN/s", "Inf/s", "-1/s", "1/0s", "1/1ns", "2e9/s", "1/2000000h", "1/s/s"} {
		var r Rate
		if err := r.parseScalar(in); err == nil {
			t.Errorf("Rate(%q) = %+v, want an error", in, r)
		}
	}
	for _, tc := range []struct{ in, text string }{
		{"header:X-User-Id", "header:X-User-Id"},
		{"cookie: session", "cookie:session"},
		{"query:api_key", "query:api_key"},
		{"client_ip", "client_ip"},
		{"gray_lane", "gray_lane"},
	} {
		var k RateKey
		if err := k.parseScalar(tc.in); err != nil || k.String() != tc.text {
			t.Errorf("RateKey(%q) = %q, %v; want %q", tc.in, k.String(), err, tc.text)
		}
	}
	for _, in := range []string{"", "header", "header:", "header:a b", "cookie:a;b", "query:a=b", "client_ip:x", "ip", "header:" + strings.Repeat("a", 300)} {
		var k RateKey
		if err := k.parseScalar(in); err == nil {
			t.Errorf("RateKey(%q) = %+v, want an error", in, k)
		}
	}
}

// FuzzRateScalars: the rate and key parsers never panic, and what they
// accept prints back to text they read as the same value.
func FuzzRateScalars(f *testing.F) {
	for _, s := range []string{"100/s", "6000/m", "1/h", "5/100ms", "0.5/s", "1e3/1m30s", "1/", "/s", "header:X-User-Id", "cookie:sid", "query:k", "client_ip", "gray_lane", "header:", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var r Rate
		if r.parseScalar(s) == nil {
			var again Rate
			if err := again.parseScalar(r.String()); err != nil || again != r {
				t.Fatalf("Rate(%q) = %+v prints %q, which reads back as %+v, %v", s, r, r.String(), again, err)
			}
			if ps := r.PerSecond(); !(ps > 0) {
				t.Fatalf("Rate(%q) accepted with PerSecond %v", s, ps)
			}
		}
		var k RateKey
		if k.parseScalar(s) == nil {
			var again RateKey
			if err := again.parseScalar(k.String()); err != nil || again != k {
				t.Fatalf("RateKey(%q) = %+v prints %q, which reads back as %+v, %v", s, k, k.String(), again, err)
			}
		}
	})
}

// FuzzParseRateLimits: whole files with rate_limits, seeded from the error
// cases, parse to a Config or to errors, never both and never a panic.
func FuzzParseRateLimits(f *testing.F) {
	for _, tt := range rateLimitErrorCases {
		f.Add([]byte(rateLimitBase + tt.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, testEnv)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("parse returned cfg=%v and err=%v; want exactly one", cfg != nil, err)
		}
	})
}

// TestGlobalRateLimit: a global limit needs a rate, no key, rejects, and
// replication with a bind address.
func TestGlobalRateLimit(t *testing.T) {
	const repl = "replication: {dir: /tmp/r, bind: \"127.0.0.1:7946\"}\n"
	for _, tc := range []struct {
		name, yaml, path, msg string // path "" means valid
	}{
		{"a global rate with replication", repl + "rate_limits: [{name: g, rate: 1000/s, global: {sites: 3}}]", "", ""},
		{"without replication", "rate_limits: [{name: g, rate: 1000/s, global: {sites: 3}}]", "rate_limits[0].global", "needs replication"},
		{"a replica without bind", "replication: {dir: /tmp/r}\nrate_limits: [{name: g, rate: 1000/s, global: {sites: 3}}]", "rate_limits[0].global", "needs replication"},
		{"a window", repl + "rate_limits: [{name: g, window: 1s, requests: 10, global: {sites: 3}}]", "rate_limits[0].global", "needs rate"},
		{"a key", repl + "rate_limits: [{name: g, rate: 10/s, key: client_ip, global: {sites: 3}}]", "rate_limits[0].global", "cannot be keyed"},
		{"queue", repl + "rate_limits: [{name: g, rate: 10/s, action: queue, global: {sites: 3}}]", "rate_limits[0].action", "not available with global"},
		{"one site", repl + "rate_limits: [{name: g, rate: 10/s, global: {sites: 1}}]", "rate_limits[0].global.sites", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse("t.yaml", []byte(rateLimitBase+tc.yaml+"\n"), testEnv)
			if tc.path == "" {
				if err != nil {
					t.Fatal(err)
				}
				if g := cfg.RateLimits[0].Global; g == nil || g.Sites != 3 || g.Flush != Duration(50*time.Millisecond) || g.Share != 0 {
					t.Errorf("global %+v, want sites 3, flush 50ms, share 0%%", g)
				}
				return
			}
			for _, e := range errorsOf(t, err) {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("errors %v, want one at %s containing %q", err, tc.path, tc.msg)
		})
	}
}
