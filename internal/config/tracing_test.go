package config

import (
	"strings"
	"testing"
	"time"
)

// TestTracing: the rules of the tracing section, each error at its place.
func TestTracing(t *testing.T) {
	for _, tt := range tracingCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.yaml", []byte(tt.text+"\n"), testEnv)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("parse:\n%s\n%v", tt.text, err)
				}
				return
			}
			found := false
			for _, e := range errorsOf(t, err) {
				if e.Path == tt.wantPath && strings.Contains(e.Msg, tt.wantIn) {
					found = true
				}
			}
			if !found {
				t.Errorf("parse:\n%s\nerrors %v, want one at %s containing %q", tt.text, err, tt.wantPath, tt.wantIn)
			}
		})
	}
}

// FuzzParseTracing: whole files with a tracing section, seeded from its
// cases: a Config or errors, never both, and never a panic.
func FuzzParseTracing(f *testing.F) {
	for _, tt := range tracingCases {
		f.Add([]byte(tt.text + "\n"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, testEnv)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("parse returned cfg=%v and err=%v; want exactly one", cfg != nil, err)
		}
		if cfg != nil && cfg.Tracing != nil {
			if _, ok := cfg.Tracing.endpointScheme(); !ok {
				t.Fatalf("endpoint %q accepted, but it is not one", cfg.Tracing.Endpoint)
			}
		}
	})
}

// tracingCases are the tracing section's rules, each error at its place.
var tracingCases = []struct {
	name, text       string
	wantPath, wantIn string // "" means valid
}{
	{"a host and port", "tracing: {endpoint: \"otel.internal:4317\"}", "", ""},
	{"cleartext by URL over HTTP", "tracing: {endpoint: \"http://127.0.0.1:4318/v1/traces\", protocol: http}", "", ""},
	{"cleartext host and port", "tracing: {endpoint: \"127.0.0.1:4317\", insecure: true}", "", ""},
	{"a header from the environment", "tracing: {endpoint: \"otel:4317\", headers_env: {authorization: TOKEN}}", "", ""},
	{"no endpoint", "tracing: {protocol: grpc}", "tracing.endpoint", "required"},
	{"an endpoint without a port", "tracing: {endpoint: otel.internal}", "tracing.endpoint", "want host:port"},
	{"another scheme", "tracing: {endpoint: \"ftp://otel:21\"}", "tracing.endpoint", "want host:port, http://"},
	{"a path over gRPC", "tracing: {endpoint: \"https://otel:4317/x\"}", "tracing.endpoint", "OTLP/gRPC has no path"},
	{"insecure with a URL", "tracing: {endpoint: \"http://otel:4318\", protocol: http, insecure: true}", "tracing.insecure", "leave insecure out"},
	{"tls with a cleartext URL", "tracing: {endpoint: \"http://otel:4318\", protocol: http, tls: {ca_file: x}}", "tracing.tls", "is cleartext"},
	{"tls and insecure", "tracing: {endpoint: \"otel:4317\", insecure: true, tls: {server_name: otel}}", "tracing.tls", "excludes insecure"},
	{"tlcp", "tracing: {endpoint: \"otel:4317\", tls: {tlcp: true}}", "tracing.tls.tlcp", "OTLP receivers speak TLS"},
	{"an unknown protocol", "tracing: {endpoint: \"otel:4317\", protocol: thrift}", "tracing.protocol", ""},
	{"a ratio above 1", "tracing: {endpoint: \"otel:4317\", sample_ratio: 2}", "tracing.sample_ratio", ""},
	{"a batch larger than the queue", "tracing: {endpoint: \"otel:4317\", queue_size: 10, batch_size: 20}", "tracing.batch_size", "more than queue_size"},
	{"a bad header name", "tracing: {endpoint: \"otel:4317\", headers: {\"a b\": x}}", "tracing.headers", "invalid header name"},
	{"a header value with a line break", "tracing: {endpoint: \"otel:4317\", headers: {a: \"x\\r\\ny\"}}", "tracing.headers.a", "line break"},
	{"an unset variable", "tracing: {endpoint: \"otel:4317\", headers_env: {authorization: EMPTY}}", "tracing.headers_env.authorization", "not set or empty"},
	{"a header both ways", "tracing: {endpoint: \"otel:4317\", headers: {a: x}, headers_env: {a: TOKEN}}", "tracing.headers_env.a", "in headers too"},
}

// TestTracingDefaults: an endpoint alone takes every default, and headers
// from the environment are read when asked for.
func TestTracingDefaults(t *testing.T) {
	cfg, err := parse("t.yaml", []byte("tracing: {endpoint: \"otel:4317\", headers: {x-tenant: a}}\n"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Tracing
	if tr.Protocol != "grpc" || tr.SampleRatio != 0.01 || !tr.AlwaysSampleErrors || tr.ServiceName != "duohuo" ||
		tr.QueueSize != 2048 || tr.BatchSize != 512 || time.Duration(tr.Timeout) != 5*time.Second {
		t.Errorf("defaults = %+v", *tr)
	}
	t.Setenv("DUOHUO_TEST_OTLP_AUTH", "Bearer x")
	tr.HeadersEnv = map[string]string{"authorization": "DUOHUO_TEST_OTLP_AUTH"}
	h, err := tr.ExportHeaders()
	if err != nil || h["authorization"] != "Bearer x" || h["x-tenant"] != "a" {
		t.Errorf("ExportHeaders = %v, %v", h, err)
	}
	tr.HeadersEnv = map[string]string{"authorization": "DUOHUO_TEST_OTLP_UNSET"}
	if _, err := tr.ExportHeaders(); err == nil || !strings.Contains(err.Error(), "tracing.headers_env.authorization") {
		t.Errorf("ExportHeaders with an unset variable = %v, want an error naming the key", err)
	}
	if cfg, err := parse("t.yaml", nil, testEnv); err != nil || cfg.Tracing != nil {
		t.Errorf("no section: Tracing = %v, %v; want nil", cfg.Tracing, err)
	}
}
