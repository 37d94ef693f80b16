package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handlerFor returns a minimal gateway handler: every request goes to addr.
func handlerFor(t *testing.T, f *testProxy, addr string) http.Handler {
	return handlerWith(t, f, addr, gwOpts{})
}

// gwOpts tune the minimal gateway handler of handlerWith.
type gwOpts struct {
	scheme   string        // upstream scheme; "" is http
	idle     time.Duration // Respond's upstream idle limit
	bodyIdle time.Duration // NewBody's client idle limit
	maxBody  int64         // > 0: the client body is limited by http.MaxBytesReader
	// seen, if non-nil, receives what the handler saw, once per request.
	seen chan<- attempt
}

// attempt is what the minimal gateway handler saw of one request.
type attempt struct {
	roundTrip, body, respond error // RoundTrip's error, Body.Err, Respond's error
	status                   int   // the status answered for a failed round trip
}

// handlerWith returns a minimal gateway handler, the shape the gateway
// has: every request goes to addr; a failed round trip is answered with the
// client's fault when the client body says so, 502 (or gRPC UNAVAILABLE)
// otherwise; a broken response body aborts the client response.
func handlerWith(t *testing.T, f *testProxy, addr string, o gwOpts) http.Handler {
	t.Helper()
	scheme := o.scheme
	if scheme == "" {
		scheme = "http"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a attempt
		if o.seen != nil {
			defer func() { o.seen <- a }()
		}
		rb := r.Body
		if o.maxBody > 0 {
			rb = http.MaxBytesReader(w, rb, o.maxBody)
		}
		body := NewBody(WithReadDeadline(w, rb), o.bodyIdle)
		ctx := r.Context()
		grpc := IsGRPC(r.Header.Get("Content-Type"))
		// A gRPC call's deadline bounds the attempt, and the upstream
		// gets what is left of it.
		var deadline time.Time
		if d, ok := ParseGRPCTimeout(r.Header.Get("Grpc-Timeout")); ok && grpc {
			deadline = time.Now().Add(d)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		out := f.Outbound(ctx, r, scheme, addr, RequestID(r), body)
		if !deadline.IsZero() {
			out.Header["Grpc-Timeout"] = []string{FormatGRPCTimeout(time.Until(deadline))}
		}
		resp, err := f.Transport.RoundTrip(out)
		if err != nil {
			a.roundTrip, a.body = err, body.Err()
			a.status = http.StatusBadGateway
			if a.body != nil {
				a.status = ClientBodyStatus(a.body)
			}
			if grpc {
				// At its deadline a grpc-go upstream resets the stream
				// (CANCEL) rather than answer: a failure at or past the
				// deadline is the deadline's.
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					WriteGRPCError(w, GRPCDeadlineExceeded, "deadline exceeded")
					return
				}
				WriteGRPCError(w, GRPCUnavailable, err.Error())
				return
			}
			http.Error(w, err.Error(), a.status)
			return
		}
		_, a.respond = f.Respond(context.Background(), w, r, resp, o.idle)
		if errors.Is(a.respond, ErrUpstreamBody) {
			panic(http.ErrAbortHandler)
		}
	})
}

// testProxy is what a gateway holds: a Forwarder, and the transport of the
// upstream it sends to (a Forwarder has none of its own).
type testProxy struct {
	*Forwarder
	Transport *Transport
}

func newForwarder(t *testing.T) *testProxy {
	return newForwarderWith(t, TransportOptions{})
}

func newForwarderWith(t *testing.T, o TransportOptions) *testProxy {
	tr := NewTransport(o)
	t.Cleanup(tr.CloseIdleConnections)
	return &testProxy{Forwarder: &Forwarder{Via: "duohuo"}, Transport: tr}
}

func TestOutboundHeaders(t *testing.T) {
	var got http.Header
	var gotHost string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		gotHost = r.Host
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Up", "1")
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	f := newForwarder(t)
	gw := httptest.NewServer(handlerFor(t, f, up.Listener.Addr().String()))
	defer gw.Close()

	req, _ := http.NewRequest("GET", gw.URL+"/a?b=c", nil)
	req.Host = "api.example.com"
	req.Header.Set("Connection", "X-Secret, keep-alive")
	req.Header.Set("X-Secret", "drop me")
	req.Header.Set("Proxy-Authorization", "Basic xyz")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Custom", "kept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" || resp.Header.Get("X-Up") != "1" {
		t.Fatalf("response = %q, X-Up %q; want ok, 1", body, resp.Header.Get("X-Up"))
	}
	if resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop Keep-Alive reached the client")
	}
	if v := resp.Header.Get("Via"); v != "1.1 duohuo" {
		t.Errorf("response Via = %q, want %q", v, "1.1 duohuo")
	}
	for _, c := range []struct{ name, want string }{
		{"X-Secret", ""},
		{"Proxy-Authorization", ""},
		{"X-Custom", "kept"},
		{"X-Forwarded-For", "203.0.113.7, 127.0.0.1"},
		{"X-Forwarded-Proto", "http"},
		{"X-Forwarded-Host", "api.example.com"},
		{"Via", "1.1 duohuo"},
	} {
		if g := got.Get(c.name); g != c.want {
			t.Errorf("upstream saw %s = %q, want %q", c.name, g, c.want)
		}
	}
	if got.Get(HeaderRequestID) == "" {
		t.Errorf("upstream saw no %s", HeaderRequestID)
	}
	if gotHost != "api.example.com" {
		t.Errorf("upstream Host = %q, want the client's api.example.com", gotHost)
	}
}

func TestRequestIDKeptOrMade(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	a, b := RequestID(r), RequestID(r)
	if a == "" || a == b {
		t.Errorf("RequestID without a header = %q then %q, want two distinct non-empty ids", a, b)
	}
	r.Header.Set(HeaderRequestID, "abc-123")
	if got := RequestID(r); got != "abc-123" {
		t.Errorf("RequestID = %q, want the client's abc-123", got)
	}
	r.Header.Set(HeaderRequestID, strings.Repeat("x", 200))
	if got := RequestID(r); len(got) > 128 {
		t.Errorf("RequestID kept a %d-byte client id, want a fresh one", len(got))
	}
}

func TestRequestBodyStreamsAndTrailers(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Sum")
		w.Write(b)
		w.Header().Set("X-Sum", "42")
	}))
	defer up.Close()
	gw := httptest.NewServer(handlerFor(t, newForwarder(t), up.Listener.Addr().String()))
	defer gw.Close()
	payload := strings.Repeat("0123456789", 10000)
	resp, err := http.Post(gw.URL, "text/plain", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != payload {
		t.Errorf("echoed %d bytes, want %d", len(body), len(payload))
	}
	if got := resp.Trailer.Get("X-Sum"); got != "42" {
		t.Errorf("trailer X-Sum = %q, want 42", got)
	}
}

// A response of unknown length (server-sent events) reaches the client as it
// is written, not when the upstream finishes.
func TestStreamingFlushesEachChunk(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	defer up.Close()
	defer close(release)
	gw := httptest.NewServer(handlerFor(t, newForwarder(t), up.Listener.Addr().String()))
	defer gw.Close()
	resp, err := http.Get(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event = %q, %v; want it before the upstream finishes", line, err)
	}
}

func TestWebSocketUpgradeTunnels(t *testing.T) {
	// A raw upstream that accepts an upgrade and then echoes bytes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		io.Copy(c, br)
	}()
	gw := httptest.NewServer(handlerFor(t, newForwarder(t), ln.Addr().String()))
	defer gw.Close()

	c, err := net.Dial("tcp", gw.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", resp.StatusCode)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through tunnel = %q, %v; want ping", buf, err)
	}
	c.Close()
	<-upDone
}

func TestBodyTouched(t *testing.T) {
	if NewBody(http.NoBody, 0) != nil || NewBody(nil, time.Second) != nil {
		t.Error("NewBody(no body) != nil, want nil")
	}
	var none *Body
	if none.Touched() {
		t.Error("nil Body is touched")
	}
	b := NewBody(io.NopCloser(strings.NewReader("x")), 0)
	if b.Touched() {
		t.Error("fresh Body is touched")
	}
	b.Close()
	io.ReadAll(b)
	if !b.Touched() {
		t.Error("Body read but not touched")
	}
}

func TestCopyEndToEndDropsConnectionNamed(t *testing.T) {
	src := http.Header{
		"Connection": {"close, X-A", "x-b"},
		"X-A":        {"1"}, "X-B": {"2"}, "X-C": {"3"},
		"Te": {"trailers"}, "Upgrade": {"h2c"},
	}
	dst := http.Header{}
	copyEndToEnd(dst, src)
	if len(dst) != 1 || dst.Get("X-C") != "3" {
		t.Errorf("copyEndToEnd = %v, want only X-C", dst)
	}
}

func TestOutboundVia(t *testing.T) {
	f := &Forwarder{Via: "duohuo"}
	for _, tc := range []struct {
		name       string
		protoMajor int
		prior      []string
		want       string
	}{
		{"an HTTP/1.1 request gets this hop appended", 1, nil, "1.1 duohuo"},
		{"an HTTP/2 request is marked as received over 2", 2, nil, "2 duohuo"},
		{"earlier hops are kept in order", 1, []string{"1.1 edge", "1.0 old"}, "1.1 edge, 1.0 old, 1.1 duohuo"},
	} {
		in := httptest.NewRequest("GET", "http://x/", nil)
		in.ProtoMajor = tc.protoMajor
		if tc.prior != nil {
			in.Header["Via"] = tc.prior
		}
		out := f.Outbound(context.Background(), in, "http", "127.0.0.1:1", "id", nil)
		if got := strings.Join(out.Header["Via"], ", "); got != tc.want {
			t.Errorf("%s: Outbound Via = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Header values shared between requests (constants, this hop's Via) stay
// intact when one request's headers are changed through the http.Header API.
func TestOutboundSharedValuesStayIntact(t *testing.T) {
	f := &Forwarder{Via: "duohuo"}
	in := httptest.NewRequest("GET", "http://x/", nil)
	in.RemoteAddr = "192.0.2.1:5000"
	a := f.Outbound(context.Background(), in, "http", "127.0.0.1:1", "a", nil)
	b := f.Outbound(context.Background(), in, "http", "127.0.0.1:1", "b", nil)
	a.Header.Add("Via", "1.1 other")
	a.Header.Add("X-Forwarded-Proto", "https")
	a.Header.Add("X-Forwarded-For", "198.51.100.1")
	a.Header.Add("X-Forwarded-Host", "evil")
	c := f.Outbound(context.Background(), in, "http", "127.0.0.1:1", "c", nil)
	for _, r := range []*http.Request{b, c} {
		for _, want := range []struct{ name, value string }{
			{"Via", "1.1 duohuo"},
			{"X-Forwarded-Proto", "http"},
			{"X-Forwarded-For", "192.0.2.1"},
			{"X-Forwarded-Host", "x"},
		} {
			if got := r.Header[want.name]; len(got) != 1 || got[0] != want.value {
				t.Errorf("after changing another request's headers, %s = %q, want [%q]", want.name, got, want.value)
			}
		}
	}
	if got := b.Header.Get(HeaderRequestID); got != "b" {
		t.Errorf("request id = %q, want b", got)
	}
	if in.Header.Get("Via") != "" {
		t.Errorf("the client request gained a Via header: %q", in.Header["Via"])
	}
}
