package config

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Tracing exports OpenTelemetry traces of the gateway's requests over OTLP:
// a server span per request and a client span per upstream attempt, with
// the routing decisions as duohuo.* attributes (docs/observability.md,
// Traces).
type Tracing struct {
	Endpoint           string            `yaml:"endpoint" required:"true" doc:"The OTLP receiver: host:port (TLS unless insecure), or http://host:port (cleartext) or https://host:port; with protocol http a URL may carry the path, else /v1/traces. OTLP's ports are 4317 (gRPC) and 4318 (HTTP)."`
	Protocol           string            `yaml:"protocol" default:"grpc" enum:"grpc,http" doc:"OTLP/gRPC or OTLP/HTTP with protobuf bodies."`
	Headers            map[string]string `yaml:"headers" doc:"Headers sent with every export, e.g. a tenant; put secrets in headers_env."`
	HeadersEnv         map[string]string `yaml:"headers_env" doc:"Headers whose values are read from environment variables when the file loads: header name → variable name, e.g. {authorization: OTLP_AUTH}."`
	Insecure           bool              `yaml:"insecure" doc:"Export in cleartext to a host:port endpoint; excludes tls."`
	TLS                *UpstreamTLS      `yaml:"tls" doc:"How the receiver's certificate is verified, and the client certificate for mutual TLS; tlcp is not supported here."`
	Timeout            Duration          `yaml:"timeout" default:"5s" min:"10ms" max:"1m" doc:"Bound on one export, retries included: a silent receiver costs the exporter this long, never a request."`
	QueueSize          int               `yaml:"queue_size" default:"2048" min:"1" max:"1000000" doc:"Ended spans waiting for export; when full, new ones are dropped (duohuo_tracing_spans_dropped_total) rather than slowing requests."`
	BatchSize          int               `yaml:"batch_size" default:"512" min:"1" max:"100000" doc:"Spans per export at most; at most queue_size."`
	SampleRatio        float64           `yaml:"sample_ratio" default:"0.01" min:"0" max:"1" doc:"Share of new traces sampled (by trace ID, so every gateway of a trace agrees); a request whose traceparent says sampled or not follows it."`
	AlwaysSampleErrors bool              `yaml:"always_sample_errors" default:"true" doc:"Also export the trace of every request that ends in a 5xx or no answer, even when it was not sampled: its spans are kept in memory until the answer and dropped if it is good."`
	ServiceName        string            `yaml:"service_name" default:"duohuo" doc:"The service.name resource attribute of the spans."`
}

func (t *Tracing) validate(c *checker, path string) {
	scheme, ok := t.endpointScheme()
	switch {
	case !ok:
		c.errorf(join(path, "endpoint"), "invalid endpoint %q: want host:port, http://host:port or https://host:port", t.Endpoint)
	case scheme == "http" && t.TLS != nil:
		c.errorf(join(path, "tls"), "endpoint %q is cleartext (http://): use https:// or leave tls out", t.Endpoint)
	case scheme != "" && t.Insecure:
		c.errorf(join(path, "insecure"), "the endpoint's scheme says it already: leave insecure out with a URL")
	case scheme == "":
		c.checkHostPort(join(path, "endpoint"), t.Endpoint, false)
		if u, err := url.Parse("http://" + t.Endpoint); err == nil && u.Path != "" {
			c.errorf(join(path, "endpoint"), "a host:port endpoint has no path: write it as a URL, e.g. https://%s", t.Endpoint)
		}
	}
	if scheme != "" && t.Protocol == "grpc" {
		if u, err := url.Parse(t.Endpoint); err == nil && strings.Trim(u.Path, "/") != "" {
			c.errorf(join(path, "endpoint"), "OTLP/gRPC has no path: %q", t.Endpoint)
		}
	}
	if t.Insecure && t.TLS != nil {
		c.errorf(join(path, "tls"), "excludes insecure: give one of them")
	}
	if t.TLS != nil && (t.TLS.TLCP || t.TLS.GMFiles()) {
		c.errorf(join(path, "tls.tlcp"), "is for upstream.tls: OTLP receivers speak TLS")
	}
	if t.BatchSize > t.QueueSize {
		c.errorf(join(path, "batch_size"), "%d is more than queue_size %d", t.BatchSize, t.QueueSize)
	}
	for _, k := range sortedKeys(t.Headers) {
		if !headerName(k) {
			c.errorf(join(path, "headers"), "invalid header name %q", k)
		}
		if strings.ContainsAny(t.Headers[k], "\r\n\x00") {
			c.errorf(join(path, "headers."+k), "the value has a line break or NUL")
		}
	}
	for _, k := range sortedKeys(t.HeadersEnv) {
		if !headerName(k) {
			c.errorf(join(path, "headers_env"), "invalid header name %q", k)
			continue
		}
		if _, dup := t.Headers[k]; dup {
			c.errorf(join(path, "headers_env."+k), "header %q is in headers too: give it one way", k)
		}
		env := t.HeadersEnv[k]
		if !validEnvName(env) {
			c.errorf(join(path, "headers_env."+k), "invalid variable name %q: use letters, digits and _", env)
		} else if v, _ := c.d.lookup(env); v == "" {
			c.errorf(join(path, "headers_env."+k), "environment variable %s is not set or empty", env)
		} else if strings.ContainsAny(v, "\r\n\x00") {
			c.errorf(join(path, "headers_env."+k), "environment variable %s has a line break or NUL", env)
		}
	}
}

// endpointScheme returns "" for a host:port endpoint, "http" or "https"
// for a URL, and false for anything else.
func (t *Tracing) endpointScheme() (string, bool) {
	if !strings.Contains(t.Endpoint, "://") {
		return "", t.Endpoint != ""
	}
	u, err := url.Parse(t.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	return u.Scheme, true
}

// ExportHeaders returns headers with the values of headers_env read from
// the environment. It fails naming the variable that is not set.
func (t *Tracing) ExportHeaders() (map[string]string, error) {
	out := make(map[string]string, len(t.Headers)+len(t.HeadersEnv))
	for k, v := range t.Headers {
		out[k] = v
	}
	for _, k := range sortedKeys(t.HeadersEnv) {
		v, err := secret(t.HeadersEnv[k], "")
		if err != nil {
			return nil, fmt.Errorf("tracing.headers_env.%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// headerName reports whether k is an HTTP field name (RFC 9110, section
// 5.1: a token) that gRPC metadata accepts too (no upper case needed: it
// is lowered).
func headerName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r > 0x7e || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
