package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/proxy"
	"github.com/duohuo/duohuo/request"
	"github.com/duohuo/duohuo/resilience"
)

// The net/http engine: HTTP/1.1, HTTP/2 and h2c from clients, every
// upstream protocol through proxy.Transport. It adapts a request to the
// exchange core's seams and back; the core decides, this file carries out.

// serve is the net/http handler behind the fault filter.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil && r.ProtoMajor == 1 {
		r.TLS = tlsStateOf(r.Context()) // HTTP/1.x over TLS, seen through the framing check
	}
	if m := r.Method; (m == http.MethodTrace || m == http.MethodOptions) && g.serveHopMethod(w, r) {
		return
	}
	e, _ := httpExchanges.Get().(*httpExchange)
	if e == nil {
		e = new(httpExchange)
	}
	e.li = listenerFrom(r.Context())
	e.li.prepareHeaders(r) // before the request ID: a client's is kept only from a trusted proxy
	e.HTTP, e.g, e.w, e.r, e.id, e.grpc = request.NewHTTP(r), g, w, r, proxy.RequestID(r), proxy.IsGRPC(r.Header.Get("Content-Type"))
	if e.trace.Got1xxResponse == nil { // a reused e keeps its own (bound to e)
		e.trace.Got1xxResponse = e.interim // set before any attempt: hedges share it
	}
	w.Header().Set(proxy.HeaderRequestID, e.id)
	var rt *reqTrace
	if g.trace != nil {
		rt = reqTraceFrom(r.Context())
	}
	if rt != nil {
		e.x.tr = rt
	}
	abort := g.runIn(&e.x, r.Context(), e, e, e)
	if rt != nil {
		rt.exchanged(&e.x)
	}
	// Reused only when nothing can still reach it: no body (a
	// transport may still read one after the handler returned), no
	// read ahead, and the core says its timer and hedges are done.
	if e.body == nil && e.peek == 0 && e.x.done() {
		timer, fire, trace := e.x.timer, e.x.fireFn, e.trace
		*e = httpExchange{}
		e.x.timer, e.x.fireFn = timer, fire // stopped, never fired: reusable
		e.trace = trace
		httpExchanges.Put(e)
	}
	if abort {
		// The status line is out and the instance broke off: abort, so
		// that the client sees a broken response, not a short one.
		panic(http.ErrAbortHandler)
	}
}

// httpExchanges recycles the per-request state of bodiless requests.
var httpExchanges sync.Pool

// httpExchange is one net/http request as the core's Request, Upstream and
// Responder.
type httpExchange struct {
	request.HTTP
	x     exchange     // the core's side of this request
	resp  httpResponse // the first attempt's response
	g     *Gateway
	li    *listener // the listener that accepted the request
	w     http.ResponseWriter
	r     *http.Request
	id    string
	grpc  bool
	body  *proxy.Body   // nil: no body
	sent  Sender        // the core's: the request was sent whole
	resps atomic.Int32  // responses made; the first is resp (a hedge may make one concurrently)
	peek  time.Duration // how long to wait for a gRPC status that follows an empty head; 0: do not

	trace   httptrace.ClientTrace // the attempts': forwards their 1xx interim responses
	finalMu sync.Mutex            // guards final and w's header map while attempts run
	final   bool                  // the final response is being written: no more interim ones
}

// interim forwards an attempt's 1xx interim response (103 Early Hints)
// while no final response is on its way; it runs on the transport's
// goroutine, and a hedge's may run beside another attempt's.
func (e *httpExchange) interim(code int, h textproto.MIMEHeader) error {
	e.finalMu.Lock()
	defer e.finalMu.Unlock()
	if !e.final {
		e.g.fwd.WriteInterim(e.w, code, http.Header(h))
	}
	return nil
}

// finalize marks the final response as begun: no interim response is
// written after it.
func (e *httpExchange) finalize() {
	e.finalMu.Lock()
	e.final = true
	e.finalMu.Unlock()
}

// Interface guards.
var (
	_ Request   = (*httpExchange)(nil)
	_ Upstream  = (*httpExchange)(nil)
	_ Responder = (*httpExchange)(nil)
)

func (e *httpExchange) Color(p *color.Propagator) (string, bool, bool) {
	if !p.Carries(e.r.Header) {
		return "", false, false
	}
	lane, trusted := p.Incoming(e.r)
	return lane, true, trusted
}
func (e *httpExchange) StripColor(p *color.Propagator)         { p.Strip(e.r.Header) }
func (e *httpExchange) SetColor(p *color.Propagator, l string) { p.Set(e.r.Header, l) }
func (e *httpExchange) Idempotent() bool                       { return idempotent(e.r.Method) }
func (e *httpExchange) GRPC() bool                             { return e.grpc }

// ForwardPath: Gateway.ServeHTTP normalised the path (normalizeURL) and
// left the client's escaped path in RawPath when it spelled /, \ or .
// escaped.
func (e *httpExchange) ForwardPath(mode escapedPath) bool {
	if u := e.r.URL; u.RawPath != "" && pathEscapes(u.RawPath) {
		return forwardPath(u, mode)
	}
	return true
}

func (e *httpExchange) Timeout() time.Duration {
	if !e.grpc {
		return 0
	}
	d, _ := proxy.ParseGRPCTimeout(e.r.Header.Get("Grpc-Timeout"))
	return d
}

// Begin wraps the client body, whose reads the route's idle limit bounds.
func (e *httpExchange) Begin(b begin) {
	e.sent, e.peek = b.Sent, b.StatusWait
	keepUpgrade(e.r.Header, b.Upgrades)
	idle := b.Idle
	e.body = proxy.NewBody(proxy.WithReadDeadline(e.w, e.r.Body), idle)
	if e.body != nil {
		e.body.OnEnd(b.Sent.RequestSent)
		// A gRPC call or a tunnel may stream both ways: its client
		// waits for answers before it sends more, so it is never held
		// back.
		if limit := int64(b.Buffer); limit > 0 && e.r.ContentLength <= limit && !e.grpc && e.r.Header.Get("Upgrade") == "" {
			if e.r.ContentLength >= 0 {
				limit = e.r.ContentLength // no more is coming: read no further
			}
			e.body.Buffer(int(limit))
		}
	}
}

// Send sends one attempt to in over the service's transport.
func (e *httpExchange) Send(ctx context.Context, svc *service, in *discovery.Instance) (Response, error) {
	if e.body == nil {
		e.sent.RequestSent()
	}
	if err := e.body.Err(); err != nil {
		// The body failed while it was buffered: no instance is bothered.
		return nil, &AttemptError{Class: ClassClientBody, Err: err}
	}
	ctx = httptrace.WithClientTrace(ctx, &e.trace)
	out := e.g.fwd.Outbound(ctx, e.r, svc.scheme, hostPort(in.Addr), e.id, e.body)
	if e.x.tr != nil {
		e.g.trace.inject(ctx, out.Header) // the attempt's span: traceparent for the instance
	}
	resp, err := svc.tr.RoundTrip(out)
	if err != nil {
		return nil, classifySendError(err)
	}
	hr := &e.resp
	if e.resps.Add(1) > 1 {
		hr = new(httpResponse)
	}
	*hr = httpResponse{resp: resp, status: resp.StatusCode}
	if e.grpc {
		if v := resp.Header.Get("Grpc-Status"); v != "" {
			if code, err := strconv.Atoi(v); err == nil {
				hr.status = httpStatusOfGRPC(code) // trailers-only: the status is the call's
			}
		} else if e.peek > 0 {
			peekGRPCStatus(hr, e.peek)
		}
	}
	return hr, nil
}

// peekGRPCStatus reads the start of a gRPC response body: if the call ended
// without a message, its status (in the trailers) becomes the response's,
// so that the core can retry it; otherwise what was read is given back in
// front of the rest of the body. It waits at most wait (the route's
// retry.status_wait): a stream whose first message is slower is forwarded as
// it is, unretried.
func peekGRPCStatus(hr *httpResponse, wait time.Duration) {
	ch := make(chan peekRead, 1)
	body := hr.resp.Body
	go func() { // ends with the read: data, the end, or the attempt cancelled
		p := make([]byte, 16<<10)
		n, err := body.Read(p)
		ch <- peekRead{p[:n], err}
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case r := <-ch:
		if len(r.p) == 0 && r.err == io.EOF {
			if code, err := strconv.Atoi(hr.resp.Trailer.Get("Grpc-Status")); err == nil {
				hr.status = httpStatusOfGRPC(code)
			}
		}
		hr.resp.Body = &peekedBody{first: r.p, err: r.err, rest: body}
	case <-t.C:
		hr.resp.Body = &peekedBody{pending: ch, rest: body}
	}
}

// peekRead is the result of the read peekGRPCStatus makes ahead.
type peekRead struct {
	p   []byte
	err error
}

// peekedBody is a response body whose first read was made ahead.
type peekedBody struct {
	pending chan peekRead // the read, while it has not returned
	first   []byte
	err     error
	done    bool // first and err were handed out
	rest    io.ReadCloser
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if b.pending != nil {
		r := <-b.pending
		b.pending, b.first, b.err = nil, r.p, r.err
	}
	if !b.done {
		n := copy(p, b.first)
		b.first = b.first[n:]
		if len(b.first) > 0 {
			return n, nil
		}
		b.done = true
		if b.err != nil || n > 0 {
			return n, b.err
		}
	}
	return b.rest.Read(p)
}

func (b *peekedBody) Close() error { return b.rest.Close() }

// classifySendError tells a failed round trip's class from its error.
func classifySendError(err error) error {
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return &AttemptError{Class: ClassConnect, Err: err}
	case strings.Contains(err.Error(), "malformed HTTP"):
		// net/http has no error type for a response it cannot parse.
		return &AttemptError{Class: ClassProtocol, Err: err}
	}
	return &AttemptError{Class: ClassReset, Err: err}
}

func (e *httpExchange) Replayable() bool { return e.body.Replayable() }

func (e *httpExchange) ClientError() (int, error) {
	err := e.body.Err()
	return proxy.ClientBodyStatus(err), err
}

func (e *httpExchange) SetHeader(name, value string) {
	e.finalMu.Lock() // an attempt's interim response may be being written
	e.w.Header().Set(name, value)
	e.finalMu.Unlock()
}

func (e *httpExchange) Forward(resp Response, f forwarding) (int64, int, error) {
	e.finalize()
	hr := resp.(*httpResponse)
	w := e.w
	var capture *captureWriter
	if f.Stale != nil {
		capture = &captureWriter{ResponseWriter: w, limit: f.Stale.MaxEntryBytes()}
		w = capture
	}
	n, err := e.g.fwd.Respond(e.g.tunnelCtx, w, e.r, hr.resp, f.Idle)
	switch {
	case err == nil:
	case errors.Is(err, proxy.ErrUpstreamIdle):
		return n, 0, errors.Join(errUpstreamIdle, err)
	case errors.Is(err, proxy.ErrClientWrite):
		return n, 0, errors.Join(errClientGone, err)
	default:
		return n, 0, errors.Join(errUpstreamBroke, err)
	}
	if capture != nil {
		capture.store(f.Stale, e.r, hr.resp.StatusCode)
	}
	trailer := 0
	if e.grpc {
		if v := hr.resp.Trailer.Get("Grpc-Status"); v != "" {
			if code, err := strconv.Atoi(v); err == nil {
				trailer = httpStatusOfGRPC(code)
			}
		}
	}
	return n, trailer, nil
}

func (e *httpExchange) Reply(status int, reason string) {
	e.finalize()
	if status == 499 {
		return // the client is gone: nothing to write
	}
	if !e.li.fullErrors {
		// Service names and lanes are for the operator, not the client.
		e.g.log.Debug("gateway error", "status", status, "reason", reason, "path", e.r.URL.Path, "request_id", e.id)
		reason = reasonCode(reason)
	}
	h := e.w.Header()
	h.Set(headerError, reason)
	if e.grpc {
		proxy.WriteGRPCError(e.w, grpcCodeOfHTTP(status), "duohuo: "+reason)
		return
	}
	http.Error(e.w, "duohuo: "+reason, status)
}

func (e *httpExchange) Static(s staticReply) {
	e.finalize()
	if e.grpc {
		// A gRPC client cannot read an HTTP body: the fallback becomes a
		// status, its body the message (a status below 400 still cannot
		// carry a response message: UNAVAILABLE).
		code := proxy.GRPCUnavailable
		if s.Status >= 400 {
			code = grpcCodeOfHTTP(s.Status)
		}
		e.w.Header().Set(HeaderFallback, "static")
		proxy.WriteGRPCError(e.w, code, s.Body)
		return
	}
	h := e.w.Header()
	h.Set("Content-Type", s.ContentType)
	h.Set(HeaderFallback, "static")
	e.w.WriteHeader(s.Status)
	if e.r.Method != http.MethodHead {
		io.WriteString(e.w, s.Body)
	}
}

func (e *httpExchange) Stale(c *resilience.StaleCache) (int, bool) {
	e.finalize()
	resp, ok := c.Get(staleKey(e.r))
	if !ok {
		return 0, false
	}
	h := e.w.Header()
	for k, vv := range resp.Header {
		h[k] = vv
	}
	h.Set(HeaderFallback, "stale")
	h.Set("Age", strconv.Itoa(int(time.Since(resp.StoredAt).Seconds())))
	e.w.WriteHeader(resp.Status)
	if e.r.Method != http.MethodHead {
		e.w.Write(resp.Body)
	}
	return resp.Status, true
}

// httpResponse is a net/http response head as the core's Response.
type httpResponse struct {
	resp   *http.Response
	status int
}

func (r *httpResponse) Status() int { return r.status }
func (r *httpResponse) Discard() {
	io.Copy(io.Discard, io.LimitReader(r.resp.Body, 64<<10)) // keep the connection reusable
	r.resp.Body.Close()
}

// staleKey is the serve-stale key of a request.
func staleKey(r *http.Request) string { return r.Method + " " + r.Host + r.URL.RequestURI() }

// captureWriter copies what is written to the client, up to limit bytes, so
// that a good response can be stored for serve-stale.
type captureWriter struct {
	http.ResponseWriter
	limit    int64
	buf      bytes.Buffer
	overflow bool
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if !c.overflow {
		if int64(c.buf.Len()+len(p)) > c.limit {
			c.overflow = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(p)
		}
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// store keeps a finished response for serve-stale when it may be stored.
func (c *captureWriter) store(stale *resilience.StaleCache, r *http.Request, status int) {
	if c.overflow || !resilience.Cacheable(r.Method, r.Header, status, c.Header()) {
		return
	}
	h := c.Header().Clone()
	for _, k := range []string{HeaderFallback, "X-Request-Id", "Date"} {
		delete(h, k)
	}
	stale.Put(staleKey(r), status, h, c.buf.Bytes())
}
