package config

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// env is a fixed environment for ${VAR} expansion in tests.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var testEnv = env(map[string]string{"TOKEN": "s3cret", "EMPTY": "", "PORT": "9001", "RETRIES": "3"})

// wantErr is the part of an Error a test pins: its place, path, and a
// fragment of its message.
type wantErr struct {
	Line, Col int
	Path      string
	Msg       string // substring of the message
}

func errorsOf(t *testing.T, err error) Errors {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T) is not a config.Errors", err, err)
	}
	return es
}

const service = "services:\n  - name: api\n    discovery:\n      - static:\n          instances:\n            - addr: 127.0.0.1:9001\n"

// parseErrorCases are invalid files and what Parse must say about them; they
// also seed FuzzParse.
var parseErrorCases = []struct {
	name string
	yaml string
	want []wantErr
}{
	{
		name: "unknown key is refused with a suggestion",
		yaml: "lgo:\n  level: info\n",
		want: []wantErr{{1, 1, "lgo", `unknown key "lgo"; did you mean "log"?`}},
	},
	{
		name: "unknown key far from any field has no suggestion",
		yaml: "log:\n  colour_scheme: dark\n",
		want: []wantErr{{2, 3, "log.colour_scheme", `unknown key "colour_scheme"`}},
	},
	{
		name: "duplicate key points at the second one",
		yaml: "log:\n  level: info\n  level: debug\n",
		want: []wantErr{{3, 3, "log.level", "duplicate key (first at line 2)"}},
	},
	{
		name: "enum value outside the list",
		yaml: "log:\n  format: xml\n",
		want: []wantErr{{2, 11, "log.format", `"xml" is not one of text, json`}},
	},
	{
		name: "duration without unit",
		yaml: "listeners:\n  - name: a\n    listen: :80\n    idle_timeout: 30\n",
		want: []wantErr{{4, 19, "listeners[0].idle_timeout", `invalid duration "30"`}},
	},
	{
		name: "negative duration",
		yaml: "listeners:\n  - name: a\n    listen: :80\n    idle_timeout: -1s\n",
		want: []wantErr{{4, 19, "listeners[0].idle_timeout", "must not be negative"}},
	},
	{
		name: "size with unknown unit",
		yaml: "listeners:\n  - name: a\n    listen: :80\n    max_header_bytes: 4 parsecs\n",
		want: []wantErr{{4, 23, "listeners[0].max_header_bytes", `invalid size "4 parsecs"`}},
	},
	{
		name: "size below its minimum",
		yaml: "listeners:\n  - name: a\n    listen: :80\n    max_header_bytes: 100\n",
		want: []wantErr{{4, 23, "listeners[0].max_header_bytes", "must be between 1KiB and 16MiB"}},
	},
	{
		name: "integer out of range",
		yaml: service + "routes:\n  - name: r\n    service: api\n    retry:\n      attempts: 11\n",
		want: []wantErr{{11, 17, "routes[0].retry.attempts", "must be between 0 and 10"}},
	},
	{
		name: "wrong type: list where a value is wanted",
		yaml: "log:\n  level: [info]\n",
		want: []wantErr{{2, 10, "log.level", "want a single value, got a list"}},
	},
	{
		name: "wrong type: value where a section is wanted",
		yaml: "log: loud\n",
		want: []wantErr{{1, 6, "log", "want a mapping of keys, got a single value"}},
	},
	{
		name: "wrong type: text where a number is wanted",
		yaml: service + "routes:\n  - name: r\n    service: api\n    retry:\n      attempts: many\n",
		want: []wantErr{{11, 17, "routes[0].retry.attempts", `invalid integer "many"`}},
	},
	{
		name: "yes is not a boolean",
		yaml: "services:\n  - name: api\n    upstream:\n      tls: yes\n    discovery:\n      - dns: {name: api.internal}\n",
		want: []wantErr{{4, 12, "services[0].upstream.tls", `invalid boolean "yes": write true or false`}},
	},
	{
		name: "missing required keys point at the enclosing mapping",
		yaml: "routes:\n  - match:\n      path_prefix: /x\n",
		want: []wantErr{
			{2, 5, "routes[0].name", "is required"},
			{2, 5, "routes[0].service", "is required"},
		},
	},
	{
		name: "required key written empty",
		yaml: "listeners:\n  - name: \"\"\n    listen: :80\n",
		want: []wantErr{{2, 11, "listeners[0].name", "must not be empty"}},
	},
	{
		name: "route to an undefined service, with a suggestion",
		yaml: service + "routes:\n  - name: r\n    service: apj\n",
		want: []wantErr{{9, 14, "routes[0].service", `unknown service "apj"; did you mean "api"?`}},
	},
	{
		name: "duplicate service names",
		yaml: service + "  - name: api\n    discovery:\n      - dns: {name: api.internal}\n",
		want: []wantErr{{7, 11, "services[1].name", `duplicate service name "api" (first at services[0].name)`}},
	},
	{
		name: "duplicate instance addresses in one source",
		yaml: service + "            - addr: 127.0.0.1:9001\n",
		want: []wantErr{{7, 21, "services[0].discovery[0].static.instances[1].addr", "duplicate instance 127.0.0.1:9001"}},
	},
	{
		name: "discovery source with two kinds",
		yaml: "services:\n  - name: api\n    discovery:\n      - dns: {name: a.internal}\n        file: {path: x.yaml}\n",
		want: []wantErr{{4, 9, "services[0].discovery[0]", "exactly one of static, file, dns, nacos, consul or kubernetes; this one sets file and dns"}},
	},
	{
		name: "nacos without servers",
		yaml: "services:\n  - name: api\n    discovery:\n      - nacos: {group: g}\n",
		want: []wantErr{{4, 9, "services[0].discovery[0].nacos.servers", "is required"}},
	},
	{
		name: "nacos server that is no URL",
		yaml: "services:\n  - name: api\n    discovery:\n      - nacos: {servers: [\"ftp://n:8848\", \"http://u@n\", \"n:99999\"]}\n",
		want: []wantErr{
			{4, 27, "services[0].discovery[0].nacos.servers[0]", `scheme "ftp" is not http or https`},
			{4, 43, "services[0].discovery[0].nacos.servers[1]", `invalid server "http://u@n"`},
			{4, 57, "services[0].discovery[0].nacos.servers[2]", `invalid port "99999"`},
		},
	},
	{
		name: "nacos password without username, from an unset variable",
		yaml: "services:\n  - name: api\n    discovery:\n      - nacos: {servers: [n], password_env: NOPE}\n",
		want: []wantErr{
			{4, 9, "services[0].discovery[0].nacos.username", "is required with a password"},
			{4, 45, "services[0].discovery[0].nacos.password_env", "environment variable NOPE is not set or empty"},
		},
	},
	{
		name: "nacos password two ways",
		yaml: "services:\n  - name: api\n    discovery:\n      - nacos: {servers: [n], username: u, password_env: TOKEN, password_file: pw}\n",
		want: []wantErr{{4, 80, "services[0].discovery[0].nacos.password_file", "excludes password_env"}},
	},
	{
		name: "nacos password file that does not exist",
		yaml: "services:\n  - name: api\n    discovery:\n      - nacos: {servers: [n], username: u, password_file: /nonexistent/pw}\n",
		want: []wantErr{{4, 59, "services[0].discovery[0].nacos.password_file", "no such file"}},
	},
	{
		name: "nacos interval below a second",
		yaml: "services:\n  - name: api\n    discovery:\n      - nacos: {servers: [n], interval: 100ms}\n",
		want: []wantErr{{4, 41, "services[0].discovery[0].nacos.interval", "must be between 1s and 10m"}},
	},
	{
		name: "consul with an empty server list and a path",
		yaml: "services:\n  - name: api\n    discovery:\n      - consul: {servers: []}\n      - consul: {servers: [\"http://c:8500/v1\"], tags: [\"\"]}\n",
		want: []wantErr{
			{4, 18, "services[0].discovery[0].consul.servers", "must not be empty"},
			{5, 28, "services[0].discovery[1].consul.servers[0]", "(no path)"},
			{5, 56, "services[0].discovery[1].consul.tags[0]", "is empty"},
		},
	},
	{
		name: "consul zone without region",
		yaml: "services:\n  - name: api\n    discovery:\n      - consul: {zone: z1}\n",
		want: []wantErr{{4, 24, "services[0].discovery[0].consul.zone", "needs a region"}},
	},
	{
		name: "static instance with a host name",
		yaml: "services:\n  - name: api\n    discovery:\n      - static:\n          instances: [{addr: \"api.internal:80\"}]\n",
		want: []wantErr{{5, 30, "services[0].discovery[0].static.instances[0].addr", "use a dns source for host names"}},
	},
	{
		name: "dns a record without port",
		yaml: "services:\n  - name: api\n    discovery:\n      - dns: {name: api.internal, type: a}\n",
		want: []wantErr{{4, 9, "services[0].discovery[0].dns.port", "type a needs the instances' port"}},
	},
	{
		name: "dns srv record with port",
		yaml: "services:\n  - name: api\n    discovery:\n      - dns: {name: _http._tcp.api.internal, port: 80}\n",
		want: []wantErr{{4, 52, "services[0].discovery[0].dns.port", "srv records carry their own port"}},
	},
	{
		name: "non-loopback admin without token",
		yaml: "admin:\n  listen: 0.0.0.0:9900\n",
		want: []wantErr{{2, 11, "admin.listen", "admin.token is not set"}},
	},
	{
		name: "admin host with a port",
		yaml: "admin:\n  hosts: [ok.internal, \"admin.internal:9900\"]\n",
		want: []wantErr{{2, 24, "admin.hosts[1]", "is not a host name"}},
	},
	{
		name: "zone without region",
		yaml: "site:\n  cloud: ctyun\n  zone: a\n",
		want: []wantErr{{3, 9, "site.zone", "needs a region"}},
	},
	{
		name: "listen address without port",
		yaml: "listeners:\n  - name: a\n    listen: 127.0.0.1\n",
		want: []wantErr{{3, 13, "listeners[0].listen", `invalid address "127.0.0.1"`}},
	},
	{
		name: "two listeners on one address",
		yaml: "listeners:\n  - {name: a, listen: \":80\"}\n  - {name: b, listen: \":80\"}\n",
		want: []wantErr{{3, 23, "listeners[1].listen", "already used by listeners[0].listen"}},
	},
	{
		name: "probe timeout not below interval",
		yaml: "services:\n  - name: api\n    discovery: [{dns: {name: a.internal}}]\n    health:\n      active: {path: /h, interval: 1s, timeout: 2s}\n",
		want: []wantErr{{5, 49, "services[0].health.active.timeout", "must be shorter than interval"}},
	},
	{
		name: "http probe without path",
		yaml: "services:\n  - name: api\n    discovery: [{dns: {name: a.internal}}]\n    health:\n      active: {type: http}\n",
		want: []wantErr{{5, 7, "services[0].health.active.path", "is required for type http"}},
	},
	{
		name: "retry_on entry outside the list",
		yaml: service + "routes:\n  - name: r\n    service: api\n    retry:\n      retry_on: [5xx, always]\n",
		want: []wantErr{{11, 23, "routes[0].retry.retry_on[1]", `"always" is not one of`}},
	},
	{
		name: "fault spec that does not parse",
		yaml: "faults:\n  rules:\n    - name: f\n      spec: delay=fast\n",
		want: []wantErr{{4, 13, "faults.rules[0].spec", "delay"}},
	},
	{
		name: "static fallback status out of range",
		yaml: service + "routes:\n  - name: r\n    service: api\n    fallback:\n      static: {status: 700}\n",
		want: []wantErr{{11, 24, "routes[0].fallback.static.status", "must be between 100 and 599"}},
	},
	{
		name: "gray rule naming an unknown subset",
		yaml: service + "routes:\n  - name: r\n    service: api\n    gray:\n      subsets: [{name: v2, labels: {version: v2}}]\n      rules: [{subset: v3}]\n",
		want: []wantErr{{12, 24, "routes[0].gray.rules[0].subset", "v3"}},
	},
	{
		name: "gray trusted network that does not parse",
		yaml: "gray:\n  trusted_networks: [10.0.0.0/33]\n",
		want: []wantErr{{2, 22, "gray.trusted_networks[0]", "invalid network"}},
	},
	{
		name: "replication on a public address without a key",
		yaml: "replication:\n  dir: /var/lib/duohuo\n  bind: 0.0.0.0:7946\n",
		want: []wantErr{{1, 1, "replication.secret_key", "is required when bind"}},
	},
	{
		name: "replication key of the wrong length",
		yaml: "replication:\n  dir: d\n  secret_key: short\n",
		want: []wantErr{{3, 15, "replication.secret_key", "want 16, 24 or 32"}},
	},
	{
		name: "replication max clock offset of zero",
		yaml: "replication:\n  dir: d\n  max_clock_offset: 0s\n",
		want: []wantErr{{3, 21, "replication.max_clock_offset", "must be between 1ms and 1m"}},
	},
	{
		name: "second route with the same match is never used",
		yaml: service + "routes:\n  - {name: a, service: api}\n  - {name: b, service: api}\n",
		want: []wantErr{{9, 5, "routes[1].match", "never used: routes[0] matches the same requests first"}},
	},
	{
		name: "prefixes that differ by a trailing slash take the same requests",
		yaml: service + "routes:\n  - {name: a, service: api, match: {path_prefix: /a}}\n  - {name: b, service: api, match: {path_prefix: /a/}}\n",
		want: []wantErr{{9, 29, "routes[1].match", "never used: routes[0] matches the same requests first"}},
	},
	{
		name: "path prefix with a dot segment",
		yaml: service + "routes:\n  - {name: a, service: api, match: {path_prefix: /a/../b}}\n",
		want: []wantErr{{8, 50, "routes[0].match.path_prefix", "never match"}},
	},
	{
		name: "h2c upgrade and a token that is none",
		yaml: service + "routes:\n  - {name: a, service: api, upgrades: [websocket, h2c, \"a b\"]}\n",
		want: []wantErr{
			{8, 51, "routes[0].upgrades[1]", "h2c is never forwarded"},
			{8, 56, "routes[0].upgrades[2]", "invalid upgrade token"},
		},
	},
	{
		name: "escaped_path outside the list",
		yaml: service + "routes:\n  - {name: a, service: api, escaped_path: allow}\n",
		want: []wantErr{{8, 43, "routes[0].escaped_path", `"allow" is not one of`}},
	},
	{
		name: "trusted proxy that does not parse",
		yaml: "listeners:\n  - {name: a, listen: \":80\", trusted_proxies: [10.0.0.1/40], error_detail: all}\n",
		want: []wantErr{
			{2, 48, "listeners[0].trusted_proxies[0]", "invalid network"},
			{2, 76, "listeners[0].error_detail", `"all" is not one of`},
		},
	},
	{
		name: "unset environment variable",
		yaml: "admin:\n  token: ${NOPE}\n",
		want: []wantErr{{2, 10, "admin.token", "environment variable NOPE is not set"}},
	},
	{
		name: "unterminated variable",
		yaml: "admin:\n  token: ${TOKEN\n",
		want: []wantErr{{2, 10, "admin.token", "unterminated ${"}},
	},
	{
		name: "kubernetes source with a bad name, namespace, port and a cloud label alone",
		yaml: "services:\n  - name: api\n    discovery:\n      - kubernetes: {name: Api, namespace: shop_1, port: 70000, cloud_label: example.com/cloud}\n",
		want: []wantErr{
			{4, 28, "services[0].discovery[0].kubernetes.name", "is not a Service name"},
			{4, 44, "services[0].discovery[0].kubernetes.namespace", "is not a namespace"},
			{4, 58, "services[0].discovery[0].kubernetes.port", "is outside 1..65535"},
			{4, 78, "services[0].discovery[0].kubernetes.cloud_label", "needs node_locality: true"},
		},
	},
	{
		name: "kubernetes port name too long",
		yaml: "services:\n  - name: api\n    discovery:\n      - kubernetes: {port: a-very-long-port-name}\n",
		want: []wantErr{{4, 28, "services[0].discovery[0].kubernetes.port", "neither a port number nor a port name"}},
	},
	{
		name: "two documents",
		yaml: "log: {level: info}\n---\nlog: {level: debug}\n",
		want: []wantErr{{3, 1, "", "holds one YAML document"}},
	},
	{
		name: "yaml syntax error stops before checks",
		yaml: "log:\n  level: \"info\n",
		want: []wantErr{{2, 10, "", "yaml:"}},
	},
	{
		name: "tab indentation is named as such",
		yaml: "log:\n\tlevel: info\n",
		want: []wantErr{{2, 1, "", "yaml: a tab cannot indent YAML; use spaces"}},
	},
	{
		name: "alias to an unknown anchor",
		yaml: "log: *nothing\n",
		want: []wantErr{{1, 6, "", "alias *nothing refers to no anchor defined before it"}},
	},
	{
		name: "errors from several sections are all reported, in file order",
		yaml: "log:\n  level: loud\nadmin:\n  listen: nowhere\nversion: 2\n",
		want: []wantErr{
			{2, 10, "log.level", "is not one of"},
			{4, 11, "admin.listen", "invalid address"},
			{5, 10, "version", "must be between 1 and 1"},
		},
	},
}

func TestParseReportsEveryErrorWithItsPlace(t *testing.T) {
	for _, tt := range parseErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("test.yaml", []byte(tt.yaml), testEnv)
			if err == nil {
				t.Fatalf("parse(%q) = %+v, nil; want errors %+v", tt.yaml, cfg, tt.want)
			}
			if cfg != nil {
				t.Errorf("parse(%q) returned a Config with its error", tt.yaml)
			}
			es := errorsOf(t, err)
			var got []wantErr
			for i, e := range es {
				if e.File != "test.yaml" {
					t.Errorf("error %d: File = %q, want test.yaml", i, e.File)
				}
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

func TestErrorsFormatOneLinePerError(t *testing.T) {
	_, err := parse("duohuo.yaml", []byte("log:\n  level: loud\n  format: xml\n"), testEnv)
	want := "duohuo.yaml:2:10: log.level: \"loud\" is not one of debug, info, warn, error\n" +
		"duohuo.yaml:3:11: log.format: \"xml\" is not one of text, json"
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestParseFillsDefaultsAndKeepsExplicitZeros(t *testing.T) {
	const yaml = `
services:
  - name: api
    discovery:
      - static:
          instances:
            - addr: 127.0.0.1:${PORT}
              weight: 0
    health:
      outlier:
        success_rate:
routes:
  - name: r
    service: api
    retry:
      attempts: 0
`
	cfg, err := parse("t.yaml", []byte(yaml), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Services = []Service{{
		Name:      "api",
		Balancer:  "peak_ewma",
		Locality:  Locality{OverprovisioningFactor: 1.4, PanicThreshold: 50},
		Discovery: []DiscoverySource{{Static: &StaticSource{Instances: []StaticInstance{{Addr: "127.0.0.1:9001", Weight: 0}}}}},
		Health: Health{
			Active: ActiveHealth{
				Type: "tcp", ExpectedStatus: []StatusRange{{200, 200}}, Interval: Duration(5 * time.Second), Timeout: Duration(time.Second),
				HealthyThreshold: 2, UnhealthyThreshold: 3, Jitter: Duration(500 * time.Millisecond),
			},
			Outlier: Outlier{
				Consecutive5xx: 5, ConsecutiveGatewayFailures: 5, MaxGatewayEjectionPercent: 100,
				Interval: Duration(10 * time.Second), BaseEjectionTime: Duration(30 * time.Second),
				MaxEjectionTime: Duration(300 * time.Second), MaxEjectionPercent: 10,
				SuccessRate: &SuccessRate{MinimumHosts: 5, RequestVolume: 100, StdevFactor: 1.9},
			}},
		Upstream: Upstream{
			Protocol: "auto", DialTimeout: Duration(time.Second), TLSHandshakeTimeout: Duration(10 * time.Second),
			IdleConnTimeout: Duration(90 * time.Second), MaxIdleConnsPerInstance: 64,
		},
		Breaker: Breaker{
			ConsecutiveFailures: 5, FailureRatio: 50, MinRequests: 20, Window: Duration(10 * time.Second),
			SlowCallRatio: 50, OpenTimeout: Duration(5 * time.Second), HalfOpenProbes: 3,
		},
	}}
	want.Routes = []Route{{
		Name: "r", Service: "api", Match: Match{PathPrefix: "/"},
		Timeout: Duration(15 * time.Second), StreamIdleTimeout: Duration(time.Minute),
		Retry: Retry{
			Attempts:      0,
			PerTryTimeout: TryTimeout{Auto: true},
			RetryOn:       []string{"connect_failure", "reset", "gateway_error", "timeout"},
			StatusWait:    Duration(100 * time.Millisecond),
			Backoff:       Backoff{Base: Duration(25 * time.Millisecond), Max: Duration(250 * time.Millisecond)},
			Budget:        Budget{Ratio: 0.2, MinPerSecond: 3},
		},
		EscapedPath: "reject", Upgrades: []string{"websocket"},
		RequestBuffering: RequestBuffering{MaxBytes: 64 << 10},
	}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("parse (-want +got):\n%s", diff)
	}
}

func TestDefault(t *testing.T) {
	want := &Config{
		Version: 1,
		Log:     Log{Level: "info", Format: "text"},
		Admin:   Admin{Listen: "127.0.0.1:9900"},
		Crypto:  Crypto{Suites: "auto"},
		Metrics: Metrics{InstanceLabels: DefaultInstanceLabels},
		Gray:    Gray{Header: "X-Gray-Id", BaggageKey: "gray.lane"},
		Discovery: Discovery{DropGuard: DropGuard{
			Share: Percent(50), Reports: 2, After: Duration(30 * time.Second),
		}},
	}
	if diff := cmp.Diff(want, Default()); diff != "" {
		t.Errorf("Default() (-want +got):\n%s", diff)
	}
	if cfg, err := parse("empty.yaml", nil, testEnv); err != nil || !cmp.Equal(cfg, want) {
		t.Errorf("parse(empty) = %+v, %v; want the defaults", cfg, err)
	}
}

// TestEveryTagParses checks the default, min and max tags of every section
// against their field types, so that a mistyped tag fails here and not as a
// panic in Load.
func TestEveryTagParses(t *testing.T) {
	checked := 0
	var visit func(typ reflect.Type)
	seen := map[reflect.Type]bool{}
	visit = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for _, f := range orderedFields(typ) {
			v := reflect.New(f.typ).Elem()
			if f.def != "" {
				if err := setDefault(v, f.def); err != nil {
					t.Errorf("%s.%s: default %q: %v", typ.Name(), f.name, f.def, err)
				}
				checked++
			}
			for _, b := range []string{f.min, f.max} {
				if b != "" {
					if err := setText(v, b); err != nil {
						t.Errorf("%s.%s: bound %q: %v", typ.Name(), f.name, b, err)
					}
					checked++
				}
			}
			if f.doc == "" {
				t.Errorf("%s.%s has no doc tag", typ.Name(), f.name)
			}
			if f.def != "" && f.enum != nil && f.typ.Kind() == reflect.String {
				found := false
				for _, e := range f.enum {
					found = found || e == f.def
				}
				if !found {
					t.Errorf("%s.%s: default %q is not in its enum %v", typ.Name(), f.name, f.def, f.enum)
				}
			}
			visit(f.typ)
		}
	}
	visit(reflect.TypeFor[Config]())
	if checked < 40 {
		t.Errorf("checked %d tags; the walk missed sections", checked)
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        string
	}{
		{name: "text without dollar is unchanged", in: "plain", want: "plain"},
		{name: "variable is replaced", in: "Bearer ${TOKEN}", want: "Bearer s3cret"},
		{name: "default is used when unset", in: "${NOPE:-fallback}", want: "fallback"},
		{name: "default is used when empty", in: "${EMPTY:-fallback}", want: "fallback"},
		{name: "set value wins over default", in: "${TOKEN:-fallback}", want: "s3cret"},
		{name: "empty default is allowed", in: "x${NOPE:-}y", want: "xy"},
		{name: "set but empty variable is empty", in: "[${EMPTY}]", want: "[]"},
		{name: "double dollar escapes", in: "$${TOKEN} costs $$5", want: "${TOKEN} costs $5"},
		{name: "lone dollar is literal", in: "a$b $5 end$", want: "a$b $5 end$"},
		{name: "default is not expanded again", in: "${NOPE:-${TOKEN}}", want: "${TOKEN}"},
		{name: "several variables", in: "${PORT}/${RETRIES}", want: "9001/3"},
		{name: "unset without default is an error", in: "${NOPE}", wantErr: "NOPE is not set"},
		{name: "unterminated is an error", in: "${TOKEN", wantErr: "unterminated"},
		{name: "empty name is an error", in: "${}", wantErr: "invalid variable name"},
		{name: "name with a dash is an error", in: "${A-B}", wantErr: "invalid variable name"},
		{name: "name starting with a digit is an error", in: "${1A}", wantErr: "invalid variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand(tt.in, testEnv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("expand(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestEnvironmentExpandsTypedValues(t *testing.T) {
	const yaml = `
admin:
  listen: 0.0.0.0:9900
  token: ${TOKEN}
services:
  - name: api
    discovery: [{dns: {name: a.internal, type: a, port: "${PORT}"}}]
routes:
  - name: r
    service: api
    timeout: ${TIMEOUT:-250ms}
    retry: {attempts: "${RETRIES}"}
`
	cfg, err := parse("t.yaml", []byte(yaml), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Admin.Token, cfg.Services[0].Discovery[0].DNS.Port, cfg.Routes[0].Timeout, cfg.Routes[0].Retry.Attempts}
	want := []any{"s3cret", 9001, Duration(250 * time.Millisecond), 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expanded values (-want +got):\n%s", diff)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	const yaml = `
x-upstream: &up
  dial_timeout: 2s
  max_idle_conns_per_instance: 8
services:
  - name: a
    discovery: [{dns: {name: a.internal}}]
    upstream:
      <<: *up
      dial_timeout: 3s
  - name: b
    discovery: [{dns: {name: b.internal}}]
    upstream: *up
`
	cfg, err := parse("t.yaml", []byte(yaml), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Services[0].Upstream, cfg.Services[1].Upstream
	got := []any{a.DialTimeout, a.MaxIdleConnsPerInstance, b.DialTimeout, b.MaxIdleConnsPerInstance}
	want := []any{Duration(3 * time.Second), 8, Duration(2 * time.Second), 8}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("anchored values (-want +got):\n%s", diff)
	}
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// 600 routes × 200 methods through one alias: a small file that would
	// decode to 120,000 values.
	var b strings.Builder
	b.WriteString("x-methods: &m [" + strings.Repeat("GET, ", 199) + "GET]\nroutes:\n")
	for i := range 600 {
		b.WriteString("  - {name: r" + strconv.Itoa(i) + ", service: s, match: {methods: *m}}\n")
	}
	_, err := parse("bomb.yaml", []byte(b.String()), testEnv)
	es := errorsOf(t, err)
	found := 0
	for _, e := range es {
		if strings.Contains(e.Msg, "too many values") {
			found++
		}
	}
	if found != 1 {
		t.Errorf("parse(alias bomb) has %d errors saying too many values, want 1; first: %v", found, es[0])
	}
}
