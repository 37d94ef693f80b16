package gateway

// OpenTelemetry traces (tracing: in the file; docs/observability.md,
// Traces): a SERVER span per client request and a CLIENT span per upstream
// attempt, with the HTTP semantic conventions and the routing decisions as
// duohuo.* attributes. The exchange core knows nothing of OpenTelemetry: it
// calls the tracer interface (exchange.go), which reqTrace implements here.
// Without a tracing section g.tracing is nil and the request path pays one
// nil check.

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/internal/buildinfo"
	"github.com/duohuo/duohuo/internal/config"
)

// Bounds of the memory that always_sample_errors takes: the spans of a
// request that was not sampled wait in memory for its answer.
const (
	// maxPendingTraces bounds the requests recorded at once without being
	// sampled; beyond it, requests that are not sampled are not recorded
	// (an error among them is then not kept).
	maxPendingTraces = 1024
	// maxKeptSpans bounds the attempt spans kept per such request; the
	// server span is always kept.
	maxKeptSpans = 32
)

// tracing is the gateway's tracer: the SDK's provider with a bounded export
// queue in front of an OTLP exporter.
type tracing struct {
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	q       *exportQueue
	prop    propagation.TraceContext // traceparent and tracestate only: baggage is the color's (listener_policy.go)
	errors  bool                     // always_sample_errors
	pending atomic.Int64             // requests recorded, not sampled, not answered yet
}

// newTracing builds the tracer of c, or returns nil, nil when c is nil. The
// exporter connects lazily: a receiver that is down does not fail New.
func newTracing(c *config.Tracing, reg prometheus.Registerer, log *slog.Logger) (*tracing, error) {
	if c == nil {
		return nil, nil
	}
	exp, err := newExporter(c)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	q, err := newExportQueue(exp, c.QueueSize, c.BatchSize, time.Duration(c.Timeout), reg, log)
	if err != nil {
		exp.Shutdown(context.Background())
		return nil, fmt.Errorf("tracing: %w", err)
	}
	t := &tracing{q: q, errors: c.AlwaysSampleErrors}
	res := resource.NewSchemaless(
		attribute.String("service.name", c.ServiceName),
		attribute.String("service.version", buildinfo.Get().Version),
	)
	t.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(&sampler{
			base:    sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio)),
			errors:  c.AlwaysSampleErrors,
			pending: &t.pending,
		}),
		sdktrace.WithSpanProcessor(q),
	)
	t.tracer = t.tp.Tracer("github.com/duohuo/duohuo/internal/gateway")
	return t, nil
}

// newExporter returns the OTLP exporter of c.
func newExporter(c *config.Tracing) (sdktrace.SpanExporter, error) {
	headers, err := c.ExportHeaders()
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if c.TLS != nil {
		if tlsCfg, err = c.TLS.ClientConfig(); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	url := strings.Contains(c.Endpoint, "://")
	cleartext := c.Insecure || strings.HasPrefix(c.Endpoint, "http://")
	if tlsCfg == nil && !cleartext {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots
	}
	timeout := time.Duration(c.Timeout)
	// Retries stay within one export's timeout: a receiver that is away
	// costs the export goroutine that long, and the queue drops beyond.
	ctx := context.Background()
	if c.Protocol == "http" {
		opts := []otlptracehttp.Option{otlptracehttp.WithHeaders(headers), otlptracehttp.WithTimeout(timeout),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: timeout})}
		if url {
			opts = append(opts, otlptracehttp.WithEndpointURL(c.Endpoint))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
		}
		if cleartext {
			opts = append(opts, otlptracehttp.WithInsecure())
		} else {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsCfg))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithHeaders(headers), otlptracegrpc.WithTimeout(timeout),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, MaxElapsedTime: timeout})}
	if url {
		opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
	} else {
		opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
	}
	if cleartext {
		opts = append(opts, otlptracegrpc.WithInsecure())
	} else {
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
	}
	return otlptracegrpc.New(ctx, opts...)
}

// shutdown ends the provider: the spans still queued are exported until
// ctx ends, then the exporter is closed.
func (t *tracing) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// sampler is parent-based ratio sampling; with always_sample_errors, a
// request that is not sampled is still recorded (RecordOnly), so that its
// spans can be exported if it ends in an error (reqTrace.finish), while
// fewer than maxPendingTraces such requests are open.
type sampler struct {
	base    sdktrace.Sampler
	errors  bool
	pending *atomic.Int64
}

func (s *sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	r := s.base.ShouldSample(p)
	if r.Decision != sdktrace.Drop || !s.errors {
		return r
	}
	// Attempt spans are started only under a recording request span: a
	// local parent that is not sampled is one being recorded.
	if psc := trace.SpanContextFromContext(p.ParentContext); psc.IsValid() && !psc.IsRemote() {
		r.Decision = sdktrace.RecordOnly
	} else if s.pending.Load() < maxPendingTraces {
		r.Decision = sdktrace.RecordOnly
	}
	return r
}

func (s *sampler) Description() string {
	return "DuohuoSampler{" + s.base.Description() + ",errors=" + strconv.FormatBool(s.errors) + "}"
}

type reqTraceKey struct{}

// serve runs next under the request's SERVER span. The span's context comes
// from the client's traceparent when it sends one (W3C Trace Context); the
// Baggage header is left alone (the color's rules decide whom it is
// believed from).
func (t *tracing) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
	if !span.IsRecording() {
		next.ServeHTTP(w, r)
		return
	}
	rt := &reqTrace{t: t, span: span, sampled: span.SpanContext().IsSampled()}
	if !rt.sampled {
		t.pending.Add(1)
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		p := recover()
		rt.finish(r, sw, p != nil)
		if p != nil {
			panic(p) // http.ErrAbortHandler: the client sees a broken response
		}
	}()
	next.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, reqTraceKey{}, rt)))
}

// reqTraceFrom returns the request's tracer, nil when it is not traced.
func reqTraceFrom(ctx context.Context) *reqTrace {
	rt, _ := ctx.Value(reqTraceKey{}).(*reqTrace)
	return rt
}

// inject writes the context of the attempt's span into its request
// headers: traceparent (and tracestate) for the instance.
func (t *tracing) inject(ctx context.Context, h http.Header) {
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// statusWriter notes the status of the final response, for the span.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and the
// deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// reqTrace is one recorded request: its SERVER span, and for a request that
// was not sampled, its ended spans until the answer says whether they are
// kept. It implements the core's tracer.
type reqTrace struct {
	t       *tracing
	span    trace.Span
	sampled bool

	// What the exchange decided, taken by exchanged when it ends (the
	// engine may reuse the exchange's memory right after); reached is
	// false when the request never got there (a fault filter's abort).
	reached bool
	status  int
	abort   bool
	route   string
	xattrs  []attribute.KeyValue

	mu        sync.Mutex // guards what follows: a hedge's goroutine shares it
	state     keepState
	kept      []sdktrace.ReadOnlySpan
	overflow  int
	last      string         // class of the last attempt ended, the reason of a retry
	firstTier discovery.Tier // of the first attempt
	hedged    bool
	fallback  string
	laneGone  string
	routeOff  bool
	spent     string
	reply     string
}

// keepState is what happens to the ended spans of a request not sampled.
type keepState uint8

const (
	keepPending keepState = iota // the answer is not known yet: kept in memory
	keepExport                   // it was an error: exported
	keepDrop                     // it was good: dropped
)

// Interface guard.
var _ tracer = (*reqTrace)(nil)

func (rt *reqTrace) note(k note, v string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch k {
	case noteFallback:
		rt.fallback = v
	case noteLaneFallback:
		rt.laneGone = v
	case noteRouteOpen:
		rt.routeOff = true
	case noteBudgetSpent:
		rt.spent = v
	case noteReply:
		rt.reply = v
	}
}

func (rt *reqTrace) attempt(ctx context.Context, x *exchange, a *attempt, resend int, hedge bool) context.Context {
	in := a.pick.Instance
	ip := in.Addr.Addr().String()
	rt.mu.Lock()
	if resend == 0 {
		rt.firstTier = a.pick.Tier
	}
	first := rt.firstTier
	rt.mu.Unlock()
	why := "spill" // the balancer went farther: nearer tiers lacked healthy instances
	switch {
	case a.pick.Panic:
		why = "panic" // every candidate unhealthy or ejected: used anyway
	case a.pick.Tier > 0 && (a.avoided || resend > 0 && a.pick.Tier > first):
		why = "failover" // after a failure or silence nearer: a retry or hedge farther
	case a.pick.Tier == 0:
		why = "local"
	}
	method := x.req.Method()
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = append(attrs,
		attribute.String("http.request.method", method),
		attribute.String("server.address", ip),
		attribute.Int("server.port", int(in.Addr.Port())),
		attribute.String("network.peer.address", ip),
		attribute.Int("network.peer.port", int(in.Addr.Port())),
		attribute.String("url.full", x.svc.scheme+"://"+hostPort(in.Addr)+x.req.Path()),
		attribute.String("duohuo.service", x.svc.name),
		attribute.String("duohuo.instance", in.ID),
		attribute.String("duohuo.cloud", in.Locality.Cloud),
		attribute.String("duohuo.locality.tier", tierName(int(a.pick.Tier))),
		attribute.String("duohuo.locality.why", why),
	)
	if resend > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", resend))
	}
	if x.svc.breaker != nil {
		st := "panic" // every candidate's circuit open: used anyway
		if a.br != nil {
			st = a.br.State().String()
		}
		attrs = append(attrs, attribute.String("duohuo.breaker.state", st))
	}
	rt.mu.Lock()
	if hedge {
		rt.hedged = true
		attrs = append(attrs, attribute.Bool("duohuo.hedge", true))
	} else if resend > 0 && rt.last != "" {
		attrs = append(attrs, attribute.String("duohuo.retry.reason", rt.last))
	}
	rt.mu.Unlock()
	ctx, span := rt.t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	a.span = &attemptTrace{rt: rt, span: span}
	return ctx
}

// attemptTrace is the CLIENT span of one attempt.
type attemptTrace struct {
	rt   *reqTrace
	span trace.Span
}

func (at *attemptTrace) done(o Outcome) {
	s := at.span
	s.SetAttributes(
		attribute.String("duohuo.outcome.class", o.Class.String()),
		attribute.String("duohuo.outcome.fault", o.Fault.String()),
	)
	if o.Status > 0 {
		s.SetAttributes(attribute.Int("http.response.status_code", o.Status))
	}
	switch {
	case o.Status >= 400: // a client span's 4xx is an error too (semantic conventions)
		s.SetStatus(codes.Error, "")
	case o.Class != ClassSuccess && o.Class != ClassCanceled:
		s.SetAttributes(attribute.String("error.type", o.Class.String()))
		s.SetStatus(codes.Error, "")
	}
	if o.Status >= 400 {
		s.SetAttributes(attribute.String("error.type", strconv.Itoa(o.Status)))
	}
	s.End()
	at.rt.mu.Lock()
	if o.Class != ClassCanceled {
		at.rt.last = o.Class.String()
	}
	at.rt.mu.Unlock()
	at.rt.ended(s)
}

// ended takes a span of the request that has ended: the export queue has
// it already when the request is sampled; else it waits for the answer.
func (rt *reqTrace) ended(s trace.Span) {
	if rt.sampled {
		return
	}
	ro, ok := s.(sdktrace.ReadOnlySpan)
	if !ok {
		return
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	switch rt.state {
	case keepPending:
		if len(rt.kept) < maxKeptSpans {
			rt.kept = append(rt.kept, ro)
		} else {
			rt.overflow++
		}
	case keepExport: // a hedge that lost, ending after the answer
		rt.t.q.push(keptSpan{ro})
	}
}

// exchanged takes what exchange x decided, once it has answered, before
// the engine may reuse its memory.
func (rt *reqTrace) exchanged(x *exchange) {
	rt.reached, rt.status, rt.abort = true, x.status, x.abort
	if x.rt == nil {
		return
	}
	rt.route = x.rt.name
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = append(attrs,
		attribute.String("http.route", x.rt.name),
		attribute.String("duohuo.route", x.rt.name),
		attribute.String("duohuo.service", x.svc.name),
		attribute.Int("duohuo.attempts", x.tries),
		attribute.String("duohuo.cloud", x.cloud),
	)
	if x.ln != nil {
		attrs = append(attrs, attribute.String("duohuo.gray.lane", x.gd.Subset), attribute.String("duohuo.gray.reason", x.gd.Reason.String()))
		if x.gd.Rule >= 0 {
			rule := x.gd.RuleName
			if rule == "" {
				rule = "rules[" + strconv.Itoa(x.gd.Rule) + "]"
			}
			attrs = append(attrs, attribute.String("duohuo.gray.rule", rule))
		}
	}
	if x.hasFinal {
		attrs = append(attrs,
			attribute.String("duohuo.outcome.class", x.final.Class.String()),
			attribute.String("duohuo.outcome.fault", x.final.Fault.String()),
		)
	}
	rt.xattrs = attrs
}

// finish ends the SERVER span once the request is answered (broken: the
// handler panicked, the client saw a broken response), with the
// attributes of what the exchange decided.
func (rt *reqTrace) finish(r *http.Request, w *statusWriter, broken bool) {
	s := rt.span
	status := w.status
	if rt.status != 0 {
		status = rt.status
	}
	attrs := make([]attribute.KeyValue, 0, 24)
	attrs = append(attrs,
		attribute.String("http.request.method", r.Method),
		attribute.String("url.path", r.URL.Path),
		attribute.String("url.scheme", scheme(r)),
		attribute.String("network.protocol.version", protoVersion(r)),
	)
	if host, port := splitHost(r.Host); host != "" {
		attrs = append(attrs, attribute.String("server.address", host))
		if port > 0 {
			attrs = append(attrs, attribute.Int("server.port", port))
		}
	}
	if ca := clientAddress(r, rt.reached); ca != "" {
		attrs = append(attrs, attribute.String("client.address", ca))
	}
	if status == 0 && !broken {
		status = http.StatusOK // nothing written: net/http's implicit 200
	}
	if status > 0 && status != 499 {
		attrs = append(attrs, attribute.Int("http.response.status_code", status))
	}
	if v := w.Header().Get(fault.HeaderInjected); v != "" {
		attrs = append(attrs, attribute.String("duohuo.fault.injected", v))
	}
	name := r.Method
	if rt.route != "" {
		name += " " + rt.route
	}
	attrs = append(attrs, rt.xattrs...)
	rt.mu.Lock()
	if rt.hedged {
		attrs = append(attrs, attribute.Bool("duohuo.hedged", true))
	}
	if rt.fallback != "" {
		attrs = append(attrs, attribute.String("duohuo.fallback", rt.fallback))
	}
	if rt.laneGone != "" {
		attrs = append(attrs, attribute.String("duohuo.gray.lane_fallback", rt.laneGone))
	}
	if rt.routeOff {
		attrs = append(attrs, attribute.String("duohuo.route.breaker.state", "open"))
	}
	if rt.spent != "" {
		attrs = append(attrs, attribute.Bool("duohuo.retry.budget_exhausted", true), attribute.String("duohuo.retry.reason", rt.spent))
	}
	if rt.reply != "" {
		attrs = append(attrs, attribute.String("duohuo.error", rt.reply))
	}
	if rt.overflow > 0 {
		attrs = append(attrs, attribute.Int("duohuo.spans_dropped", rt.overflow))
	}
	rt.mu.Unlock()
	s.SetName(name)
	s.SetAttributes(attrs...)
	// 4xx is the client's: unset on a SERVER span; 5xx and no answer are
	// errors (semantic conventions, HTTP spans, Status).
	failed := broken || rt.abort || status >= 500
	if failed {
		s.SetStatus(codes.Error, "")
		if status >= 500 {
			s.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
		} else {
			s.SetAttributes(attribute.String("error.type", "broken_response"))
		}
	}
	s.End()
	if rt.sampled {
		return
	}
	rt.t.pending.Add(-1)
	ro, _ := s.(sdktrace.ReadOnlySpan)
	rt.mu.Lock()
	kept := rt.kept
	rt.kept = nil
	if failed && rt.t.errors {
		rt.state = keepExport
	} else {
		rt.state = keepDrop
	}
	rt.mu.Unlock()
	if rt.state != keepExport {
		return
	}
	for _, k := range kept {
		rt.t.q.push(keptSpan{k})
	}
	if ro != nil {
		rt.t.q.push(keptSpan{ro})
	}
}

// keptSpan is a span recorded without being sampled, exported because its
// request failed: it says sampled, as the trace it is part of now is.
type keptSpan struct{ sdktrace.ReadOnlySpan }

func (k keptSpan) SpanContext() trace.SpanContext {
	sc := k.ReadOnlySpan.SpanContext()
	return sc.WithTraceFlags(sc.TraceFlags().WithSampled(true))
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func protoVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "2"
	case 3:
		return "3"
	}
	return "1." + strconv.Itoa(r.ProtoMinor)
}

// splitHost splits a Host header into host and port (0: none).
func splitHost(h string) (string, int) {
	if host, p, err := net.SplitHostPort(h); err == nil {
		port, _ := strconv.Atoi(p)
		return host, port
	}
	return h, 0
}

// clientAddress is the original client: the first X-Forwarded-For address
// when a trusted proxy sent it (prepareHeaders has removed any other, once
// the request reached the engine: prepared), else the peer.
func clientAddress(r *http.Request, prepared bool) string {
	if prepared {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}
