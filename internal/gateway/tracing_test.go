package gateway_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"github.com/duohuo/duohuo/internal/gateway"
)

// otlpReceiver is a real OTLP/gRPC endpoint on loopback: a grpc-go server
// implementing opentelemetry.proto.collector.trace.v1.TraceService/Export
// with the OTLP protobuf types. The collector's own otlpreceiver would do
// too, but it adds some forty modules to go.mod and raises grpc, x/net and
// zap for the whole module, for a test.
type otlpReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	addr string

	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
	got      chan struct{} // signalled after each export
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &otlpReceiver{addr: ln.Addr().String(), got: make(chan struct{}, 1)}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, r)
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return r
}

func (r *otlpReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		r.resource = rs.GetResource().GetAttributes()
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	select {
	case r.got <- struct{}{}:
	default:
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// traces returns the spans received so far, by trace ID.
func (r *otlpReceiver) traces() map[string][]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]*tracepb.Span{}
	for _, s := range r.spans {
		id := hex.EncodeToString(s.GetTraceId())
		out[id] = append(out[id], s)
	}
	return out
}

// waitTrace waits, at most 10s, for a trace that satisfies ok (its server
// span and client spans in start order) and returns it.
func (r *otlpReceiver) waitTrace(t *testing.T, what string, ok func(tr spanTree) bool) spanTree {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		for _, spans := range r.traces() {
			if tr, complete := treeOf(spans); complete && ok(tr) {
				return tr
			}
		}
		select {
		case <-r.got:
		case <-deadline.C:
			t.Fatalf("no trace with %s among %d received", what, len(r.traces()))
		}
	}
}

// spanTree is one request's trace: its SERVER span and its CLIENT spans.
type spanTree struct {
	server  *tracepb.Span
	clients []*tracepb.Span
}

// treeOf orders spans into a tree; complete is false while the server span
// has not arrived.
func treeOf(spans []*tracepb.Span) (tr spanTree, complete bool) {
	for _, s := range spans {
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			tr.server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			tr.clients = append(tr.clients, s)
		}
	}
	for i := 1; i < len(tr.clients); i++ { // by start time
		for j := i; j > 0 && tr.clients[j].GetStartTimeUnixNano() < tr.clients[j-1].GetStartTimeUnixNano(); j-- {
			tr.clients[j], tr.clients[j-1] = tr.clients[j-1], tr.clients[j]
		}
	}
	return tr, tr.server != nil
}

// attr returns the value of the span's attribute key as text, "" if absent.
func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() != key {
			continue
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			return fmt.Sprint(v.BoolValue)
		}
	}
	return ""
}

// wantAttrs checks the span's attributes.
func wantAttrs(t *testing.T, what string, s *tracepb.Span, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := attr(s, k); got != v {
			t.Errorf("%s span %q: %s = %q, want %q", what, s.GetName(), k, got, v)
		}
	}
}

// childOf checks that every client span is a child of the server span.
func (tr spanTree) childOf(t *testing.T) {
	t.Helper()
	for i, c := range tr.clients {
		if string(c.GetParentSpanId()) != string(tr.server.GetSpanId()) || string(c.GetTraceId()) != string(tr.server.GetTraceId()) {
			t.Errorf("client span %d is not a child of the server span", i)
		}
	}
}

func tracedGateway(t *testing.T, rcv *otlpReceiver, tracing, rest string) (*gateway.Gateway, string) {
	t.Helper()
	cfg := fmt.Sprintf("listeners: [{name: public, listen: \"127.0.0.1:0\"}]\ntracing: {endpoint: \"%s\", insecure: true, %s}\n%s", rcv.addr, tracing, rest)
	g := start(t, parse(t, cfg), "")
	t.Cleanup(func() { g.Shutdown(context.Background()) })
	return g, "http://" + g.Addrs()[0]
}

func TestTracingPlainRequest(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	up := upstream(t, "ok")
	_, url := tracedGateway(t, rcv, "sample_ratio: 1", fmt.Sprintf(`
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, up))
	if code, body, _ := get(t, url+"/items?id=7"); code != 200 || body != "ok" {
		t.Fatalf("GET = %d %q", code, body)
	}
	tr := rcv.waitTrace(t, "one client span", func(tr spanTree) bool { return len(tr.clients) == 1 })
	tr.childOf(t)
	if tr.server.GetName() != "GET all" {
		t.Errorf("server span name = %q, want \"GET all\" (method and route)", tr.server.GetName())
	}
	wantAttrs(t, "server", tr.server, map[string]string{
		"http.request.method": "GET", "url.path": "/items", "url.scheme": "http", "http.route": "all",
		"http.response.status_code": "200", "server.address": "127.0.0.1", "client.address": "127.0.0.1",
		"duohuo.route": "all", "duohuo.service": "api", "duohuo.attempts": "1",
		"duohuo.outcome.class": "success", "duohuo.outcome.fault": "none",
	})
	host, port, _ := net.SplitHostPort(up)
	wantAttrs(t, "client", tr.clients[0], map[string]string{
		"http.request.method": "GET", "server.address": host, "server.port": port, "network.peer.address": host,
		"url.full": "http://" + up + "/items", "http.response.status_code": "200", "http.request.resend_count": "",
		"duohuo.locality.tier": "same_zone", "duohuo.locality.why": "local", "duohuo.outcome.class": "success",
	})
	if st := tr.server.GetStatus().GetCode(); st == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("server span status = %v for a 200", st)
	}
}

// A retried request: two client spans, the second with resend_count 1 and
// the reason of the retry.
func TestTracingRetriedRequest(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	good := upstream(t, "good")
	_, url := tracedGateway(t, rcv, "sample_ratio: 1", fmt.Sprintf(`
services:
  - name: api
    balancer: round_robin
    discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]
    health: {outlier: {max_ejection_percent: 0}}
routes: [{name: all, service: api, retry: {attempts: 1, budget: {ratio: 1, min_per_second: 100}}}]
`, bad.Listener.Addr().String(), good))
	for range 4 { // round robin: some start on the bad instance
		if code, body, _ := get(t, url+"/"); code != 200 || body != "good" {
			t.Fatalf("GET = %d %q, want the retry's 200", code, body)
		}
	}
	tr := rcv.waitTrace(t, "two client spans", func(tr spanTree) bool { return len(tr.clients) == 2 })
	tr.childOf(t)
	wantAttrs(t, "first client", tr.clients[0], map[string]string{"http.response.status_code": "503", "duohuo.outcome.class": "gateway_status", "duohuo.outcome.fault": "instance", "http.request.resend_count": ""})
	wantAttrs(t, "retry client", tr.clients[1], map[string]string{"http.response.status_code": "200", "http.request.resend_count": "1", "duohuo.retry.reason": "gateway_status", "duohuo.outcome.class": "success"})
	wantAttrs(t, "server", tr.server, map[string]string{"http.response.status_code": "200", "duohuo.attempts": "2"})
	if tr.clients[0].GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("the 503 attempt's span status = %v, want error", tr.clients[0].GetStatus().GetCode())
	}
}

func TestTracingHedgedRequest(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	release := make(chan struct{})
	defer close(release)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done(): // cancelled when the hedge wins
		}
		io.WriteString(w, "slow")
	}))
	defer slow.Close()
	fast := upstream(t, "fast")
	g, url := tracedGateway(t, rcv, "sample_ratio: 1", fmt.Sprintf(`
services:
  - name: api
    balancer: round_robin
    discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]
    health: {outlier: {max_ejection_percent: 0}}
routes: [{name: all, service: api, hedge: {delay: 50ms}, retry: {budget: {ratio: 1, min_per_second: 100}}}]
`, slow.Listener.Addr().String(), fast))
	for range 4 {
		if code, body, _ := get(t, url+"/"); code != 200 || body != "fast" {
			t.Fatalf("GET = %d %q, want the fast instance's", code, body)
		}
	}
	g.Shutdown(context.Background()) // the losers' spans end with their hedges
	tr := rcv.waitTrace(t, "a hedge", func(tr spanTree) bool { return len(tr.clients) == 2 && attr(tr.clients[1], "duohuo.hedge") == "true" })
	tr.childOf(t)
	wantAttrs(t, "server", tr.server, map[string]string{"duohuo.hedged": "true", "http.response.status_code": "200"})
	wantAttrs(t, "hedge", tr.clients[1], map[string]string{"http.request.resend_count": "1", "duohuo.outcome.class": "success"})
	if c := attr(tr.clients[0], "duohuo.outcome.class"); c != "canceled" && c != "timeout" {
		t.Errorf("the slow try's outcome = %q, want canceled (it lost the race)", c)
	}
}

func TestTracingGrayLane(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	v1, v2 := upstream(t, "v1"), upstream(t, "v2")
	_, url := tracedGateway(t, rcv, "sample_ratio: 1", fmt.Sprintf(`
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s", labels: {version: v1}}, {addr: "%s", labels: {version: v2}}]}}]
routes:
  - name: all
    service: api
    gray:
      subsets: [{name: stable, labels: {version: v1}}, {name: canary, labels: {version: v2}}]
      baseline: stable
      rules: [{name: testers, subset: canary, headers: [{name: x-lane, exact: canary}]}]
`, v1, v2))
	if code, body := getWith(t, url+"/", http.Header{"X-Lane": {"canary"}}); code != 200 || body != "v2" {
		t.Fatalf("GET in the canary lane = %d %q", code, body)
	}
	tr := rcv.waitTrace(t, "the canary lane", func(tr spanTree) bool { return attr(tr.server, "duohuo.gray.lane") == "canary" })
	wantAttrs(t, "server", tr.server, map[string]string{"duohuo.gray.rule": "testers", "duohuo.gray.reason": "rule"})
}

// A request whose local instance is down fails over to another cloud: the
// retry's span says where and why.
func TestTracingFailover(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	dead := closedPort(t)
	remote := upstream(t, "remote")
	_, url := tracedGateway(t, rcv, "sample_ratio: 1", fmt.Sprintf(`
site: {cloud: c1, region: r1, zone: z1}
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s", cloud: c1, region: r1, zone: z1}, {addr: "%s", cloud: c2, region: r2, zone: z2}]}}]
    health: {outlier: {max_ejection_percent: 0}}
routes: [{name: all, service: api, retry: {attempts: 2, budget: {ratio: 1, min_per_second: 100}}}]
`, dead, remote))
	if code, body, _ := get(t, url+"/"); code != 200 || body != "remote" {
		t.Fatalf("GET = %d %q, want the remote cloud's answer", code, body)
	}
	tr := rcv.waitTrace(t, "two client spans", func(tr spanTree) bool { return len(tr.clients) == 2 })
	wantAttrs(t, "local", tr.clients[0], map[string]string{"duohuo.locality.tier": "same_zone", "duohuo.locality.why": "local", "duohuo.cloud": "c1", "duohuo.outcome.class": "connect", "error.type": "connect"})
	wantAttrs(t, "failover", tr.clients[1], map[string]string{"duohuo.locality.tier": "other_cloud", "duohuo.locality.why": "failover", "duohuo.cloud": "c2", "duohuo.retry.reason": "connect", "http.request.resend_count": "1"})
	wantAttrs(t, "server", tr.server, map[string]string{"duohuo.cloud": "c2"})
}

// At a 0% ratio a good request leaves no trace, and an error is exported
// whole all the same (always_sample_errors).
func TestTracingKeepsErrorsAtZeroRatio(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	good := upstream(t, "good")
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	g, url := tracedGateway(t, rcv, "sample_ratio: 0", fmt.Sprintf(`
services:
  - {name: good, discovery: [{static: {instances: [{addr: "%s"}]}}]}
  - {name: bad, discovery: [{static: {instances: [{addr: "%s"}]}}], health: {outlier: {max_ejection_percent: 0}}}
routes:
  - {name: good, service: good, match: {path_prefix: /good}}
  - {name: bad, service: bad, match: {path_prefix: /bad}}
`, good, bad.Listener.Addr().String()))
	for range 5 {
		get(t, url+"/good")
	}
	if code, _, _ := get(t, url+"/bad"); code != 500 {
		t.Fatalf("GET /bad = %d, want the instance's 500", code)
	}
	tr := rcv.waitTrace(t, "the 500", func(tr spanTree) bool { return attr(tr.server, "http.route") == "bad" })
	if len(tr.clients) != 1 {
		t.Fatalf("the kept trace has %d client spans, want 1", len(tr.clients))
	}
	tr.childOf(t)
	if tr.server.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR || attr(tr.server, "error.type") != "500" {
		t.Errorf("server span status %v, error.type %q; want error, 500", tr.server.GetStatus().GetCode(), attr(tr.server, "error.type"))
	}
	if tr.server.GetFlags()&0x1 == 0 {
		t.Errorf("kept span flags %#x: want sampled", tr.server.GetFlags())
	}
	g.Shutdown(context.Background()) // flushes: a good trace would be there now
	for _, spans := range rcv.traces() {
		for _, s := range spans {
			if attr(s, "http.route") == "good" {
				t.Errorf("a good request's span was exported at a 0%% ratio: %v", s.GetName())
			}
		}
	}
}

// A client's traceparent makes the gateway's spans part of its trace, and
// the instance gets the attempt's span as its parent; the baggage keeps
// its own rules (an untrusted client's lane is stripped).
func TestTracingIncomingTraceparent(t *testing.T) {
	t.Parallel()
	rcv := newOTLPReceiver(t)
	var seen atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Clone())
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	_, url := tracedGateway(t, rcv, "sample_ratio: 0", fmt.Sprintf(`
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, up.Listener.Addr().String()))
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	getWith(t, url+"/", http.Header{
		"Traceparent": {"00-" + traceID + "-" + parentID + "-01"},
		"Tracestate":  {"vendor=x"},
		"Baggage":     {"gray.lane=canary,user=7"},
	})
	tr := rcv.waitTrace(t, "the client's trace ID", func(tr spanTree) bool {
		return hex.EncodeToString(tr.server.GetTraceId()) == traceID && len(tr.clients) == 1
	})
	if got := hex.EncodeToString(tr.server.GetParentSpanId()); got != parentID {
		t.Errorf("server span parent = %s, want the client's span %s", got, parentID)
	}
	h, _ := seen.Load().(http.Header)
	want := "00-" + traceID + "-" + hex.EncodeToString(tr.clients[0].GetSpanId()) + "-01"
	if got := h.Get("Traceparent"); got != want {
		t.Errorf("the instance got traceparent %q, want %q (the attempt's span)", got, want)
	}
	if got := h.Get("Tracestate"); got != "vendor=x" {
		t.Errorf("the instance got tracestate %q, want the client's", got)
	}
	if got := h.Get("Baggage"); got != "user=7" {
		t.Errorf("the instance got baggage %q, want the untrusted lane stripped and the rest kept", got)
	}
}

// getWith sends a GET with headers h and returns the answer.
func getWith(t *testing.T, url string, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// A receiver that is away (a closed port) or silent (accepts, never
// answers) costs requests nothing: they are all answered, the spans beyond
// the bounded queue are dropped and counted, and Shutdown returns within
// its context.
func TestTracingDeadReceiver(t *testing.T) {
	for name, addr := range map[string]func(*testing.T) string{"closed port": closedPort, "silent": silentListener} {
		t.Run(name, func(t *testing.T) {
			up := upstream(t, "ok")
			cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
tracing: {endpoint: "%s", insecure: true, sample_ratio: 1, queue_size: 4, batch_size: 2, timeout: 200ms}
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, addr(t), up))
			reg := prometheus.NewRegistry()
			g, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			url := "http://" + g.Addrs()[0] + "/"
			for i := range 50 {
				if code, _, _ := get(t, url); code != 200 {
					t.Fatalf("request %d = %d with the receiver away", i, code)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			g.Shutdown(ctx) // an error is expected: the export did not finish
			mfs, _ := reg.Gather()
			dropped := 0.0
			for _, mf := range mfs {
				if mf.GetName() == "duohuo_tracing_spans_dropped_total" {
					for _, m := range mf.GetMetric() {
						dropped += m.GetCounter().GetValue()
					}
				}
			}
			if dropped < 90 { // 100 spans, 4 in the queue, 2 in an export
				t.Errorf("duohuo_tracing_spans_dropped_total = %v, want nearly all of the 100 spans", dropped)
			}
			if ctx.Err() != nil {
				t.Errorf("Shutdown used up its whole context: it must give up an export in flight")
			}
		})
	}
}

// Without a tracing section, a client's traceparent reaches the instance
// as it came (the gateway is not part of the trace).
func TestTracingOff(t *testing.T) {
	var seen atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Store(r.Header.Get("Traceparent")) }))
	defer up.Close()
	g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, up.Listener.Addr().String())), "")
	defer g.Shutdown(context.Background())
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	getWith(t, "http://"+g.Addrs()[0]+"/", http.Header{"Traceparent": {tp}})
	if got, _ := seen.Load().(string); !strings.EqualFold(got, tp) {
		t.Errorf("traceparent at the instance = %q, want the client's %q", got, tp)
	}
}
