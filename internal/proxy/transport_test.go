package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewTransportDefaultsAndOptions(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		opts                 TransportOptions
		wantIdle, wantRead   int
		wantIdleConnTimeout  time.Duration
		wantHeaderTimeoutSet bool
		wantPing, wantPingTO time.Duration
	}{
		{"zero options keep 256 idle connections per instance, read 8 KiB at a time and ping after 10s of silence", TransportOptions{},
			256, 8 << 10, 90 * time.Second, false, 5 * time.Minute, 5 * time.Second},
		{"options given are used as given", TransportOptions{MaxIdleConnsPerInstance: 8, ReadBufferSize: 64 << 10, IdleConnTimeout: time.Second,
			ResponseHeaderTimeout: time.Second, PingInterval: time.Minute, PingTimeout: time.Second},
			8, 64 << 10, time.Second, true, time.Minute, time.Second},
		{"a negative ping interval sends no pings", TransportOptions{PingInterval: -1},
			256, 8 << 10, 90 * time.Second, false, 0, 5 * time.Second},
	} {
		tr := NewTransport(tc.opts)
		for _, ht := range []*http.Transport{tr.h1, tr.h2} {
			if ht.MaxIdleConnsPerHost != tc.wantIdle || ht.ReadBufferSize != tc.wantRead || ht.IdleConnTimeout != tc.wantIdleConnTimeout ||
				(ht.ResponseHeaderTimeout != 0) != tc.wantHeaderTimeoutSet || !ht.DisableCompression ||
				ht.HTTP2.SendPingTimeout != tc.wantPing || ht.HTTP2.PingTimeout != tc.wantPingTO {
				t.Errorf("%s: NewTransport(%+v) = idle %d, read buffer %d, idle timeout %v, header timeout %v, no compression %v, ping %v/%v; want %d, %d, %v, set %v, true, %v/%v",
					tc.name, tc.opts, ht.MaxIdleConnsPerHost, ht.ReadBufferSize, ht.IdleConnTimeout, ht.ResponseHeaderTimeout, ht.DisableCompression,
					ht.HTTP2.SendPingTimeout, ht.HTTP2.PingTimeout,
					tc.wantIdle, tc.wantRead, tc.wantIdleConnTimeout, tc.wantHeaderTimeoutSet, tc.wantPing, tc.wantPingTO)
			}
		}
	}
}

func TestCheckProtocol(t *testing.T) {
	for _, p := range []string{"", "auto", "http1", "h2c", "h2"} {
		if err := CheckProtocol(p); err != nil {
			t.Errorf("CheckProtocol(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"http2", "H2", "h3", "grpc"} {
		if err := CheckProtocol(p); !errors.Is(err, ErrProtocol) {
			t.Errorf("CheckProtocol(%q) = %v, want ErrProtocol", p, err)
		}
	}
}

// newH2CServer starts a cleartext test server that speaks HTTP/1.1 and
// HTTP/2 with prior knowledge.
func newH2CServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s.Config.Protocols = &p
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newTLSServer starts a TLS test server that offers h2 and http/1.1 and
// returns it with a client config that trusts it.
func newTLSServer(t *testing.T, h http.Handler) (*httptest.Server, *tls.Config) {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	roots := x509.NewCertPool()
	roots.AddCert(s.Certificate())
	return s, &tls.Config{RootCAs: roots}
}

func TestTransportPicksProtocol(t *testing.T) {
	proto := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) })
	cleartext := newH2CServer(t, proto)
	secure, tlsConf := newTLSServer(t, proto)
	for _, tc := range []struct {
		name, protocol, scheme, contentType, want string
		websocket                                 bool
	}{
		{"auto sends plain HTTP over HTTP/1.1 on cleartext", "auto", "http", "text/plain", "HTTP/1.1", false},
		{"auto sends gRPC over h2c on cleartext", "auto", "http", "application/grpc", "HTTP/2.0", false},
		{"auto sends gRPC with a codec over h2c", "auto", "http", "application/grpc+proto", "HTTP/2.0", false},
		{"auto sends gRPC-Web over HTTP/1.1, as browsers do", "auto", "http", "application/grpc-web+proto", "HTTP/1.1", false},
		{"auto lets ALPN pick h2 on TLS", "auto", "https", "text/plain", "HTTP/2.0", false},
		{"auto sends gRPC over h2 on TLS", "auto", "https", "application/grpc", "HTTP/2.0", false},
		{"auto keeps a WebSocket handshake on HTTP/1.1 on TLS", "auto", "https", "text/plain", "HTTP/1.1", true},
		{"the empty protocol is auto", "", "http", "application/grpc", "HTTP/2.0", false},
		{"http1 keeps gRPC on HTTP/1.1 on cleartext", "http1", "http", "application/grpc", "HTTP/1.1", false},
		{"http1 keeps HTTP/1.1 on TLS", "http1", "https", "text/plain", "HTTP/1.1", false},
		{"h2c speaks HTTP/2 with prior knowledge", "h2c", "http", "text/plain", "HTTP/2.0", false},
		{"h2 speaks h2 over TLS", "h2", "https", "text/plain", "HTTP/2.0", false},
		{"h2 speaks h2c to an http upstream", "h2", "http", "text/plain", "HTTP/2.0", false},
	} {
		tr := NewTransport(TransportOptions{Protocol: tc.protocol, TLS: tlsConf})
		url := cleartext.URL
		if tc.scheme == "https" {
			url = secure.URL
		}
		req, _ := http.NewRequest("POST", url, strings.NewReader("x"))
		req.Header.Set("Content-Type", tc.contentType)
		if tc.websocket {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Errorf("%s: RoundTrip: %v", tc.name, err)
			continue
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(got) != tc.want {
			t.Errorf("%s: protocol %q, %s, %s: upstream saw %s, want %s", tc.name, tc.protocol, tc.scheme, tc.contentType, got, tc.want)
		}
	}
}

func TestTransportRefuses(t *testing.T) {
	for _, tc := range []struct{ name, protocol, url string }{
		{"an unknown protocol fails every request", "spdy", "http://127.0.0.1:1/"},
		{"h2c does not reach an https upstream", "h2c", "https://127.0.0.1:1/"},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if _, err := NewTransport(TransportOptions{Protocol: tc.protocol}).RoundTrip(req); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: RoundTrip = %v, want ErrProtocol", tc.name, err)
		}
	}
}

// A transport whose encrypted connections come from DialTLS (TLCP) refuses
// what needs HTTP/2 over them, without dialling, and sends the rest over
// HTTP/1.1 on what DialTLS returns.
func TestTransportWithDialTLS(t *testing.T) {
	var dials atomic.Int64
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	defer back.Close()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, back.Listener.Addr().String()) // clear text stands in for TLCP
	}
	for _, tc := range []struct{ name, protocol, contentType string }{
		{"h2", ProtocolH2, ""},
		{"gRPC in auto", ProtocolAuto, "application/grpc"},
	} {
		req, _ := http.NewRequest("POST", "https://127.0.0.1:1/", nil)
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		if _, err := NewTransport(TransportOptions{Protocol: tc.protocol, DialTLS: dial}).RoundTrip(req); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s over DialTLS: RoundTrip = %v, want ErrProtocol", tc.name, err)
		}
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("%d dials for refused requests", n)
	}
	for _, protocol := range []string{ProtocolAuto, ProtocolHTTP1} {
		tr := NewTransport(TransportOptions{Protocol: protocol, DialTLS: dial})
		req, _ := http.NewRequest("GET", "https://127.0.0.1:1/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s over DialTLS: %v", protocol, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(b) != "HTTP/1.1" {
			t.Errorf("%s over DialTLS: answered over %q, want HTTP/1.1", protocol, b)
		}
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("%d dials through DialTLS, want 2", n)
	}
}

// relay forwards TCP connections to an upstream and can make the ones open
// go silent: bytes are read and dropped both ways while the sockets stay
// open, as when packets are dropped between two clouds. Connections opened
// later flow normally.
type relay struct {
	ln       net.Listener
	target   string
	accepted atomic.Int32
	wg       sync.WaitGroup
	mu       sync.Mutex // guards conns
	conns    []*relayConn
}

type relayConn struct {
	a, b   net.Conn
	silent atomic.Bool
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(r.close)
	return r
}

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		a, err := r.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", r.target)
		if err != nil {
			a.Close()
			continue
		}
		r.accepted.Add(1)
		c := &relayConn{a: a, b: b}
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
		r.wg.Add(2)
		go c.pipe(&r.wg, a, b)
		go c.pipe(&r.wg, b, a)
	}
}

func (c *relayConn) pipe(wg *sync.WaitGroup, dst, src net.Conn) {
	defer wg.Done()
	defer c.a.Close()
	defer c.b.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// silence makes every connection open now drop what it carries.
func (r *relay) silence() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.silent.Store(true)
	}
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.a.Close()
		c.b.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// An HTTP/2 connection to an instance that went silent is noticed by its
// unanswered PING and closed, failing the request waiting on it, and the
// next request gets a new connection instead of the dead one.
func TestHTTP2SilentConnectionIsClosed(t *testing.T) {
	up := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	rl := newRelay(t, up.Listener.Addr().String())
	tr := NewTransport(TransportOptions{Protocol: ProtocolH2C, PingInterval: 50 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	defer tr.CloseIdleConnections()
	get := func(ctx context.Context) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+rl.ln.Addr().String()+"/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(context.Background()); err != nil || got != "ok" {
		t.Fatalf("first request = %q, %v; want ok", got, err)
	}
	rl.silence()
	// Only a safety net: the health check, not this deadline, must end
	// the request.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := get(ctx); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request on the silent connection = %v, want it failed (or retried elsewhere) by the health check", err)
	}
	if got, err := get(context.Background()); err != nil || got != "ok" {
		t.Fatalf("request after the silence = %q, %v; want ok over a new connection", got, err)
	}
	if n := rl.accepted.Load(); n < 2 {
		t.Errorf("relay accepted %d connections, want a new one after the silent one", n)
	}
}

// countingServer is an upstream that counts the connections opened to it,
// speaking HTTP/1.1 and h2c.
func countingServer(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), conns
}

func getVia(t *testing.T, tr *Transport, addr string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// A negative MaxIdleConnsPerInstance keeps no HTTP/1.1 connection: each
// request opens its own. HTTP/2 still multiplexes on one connection.
func TestTransportKeepsNoIdleConnections(t *testing.T) {
	for _, tc := range []struct {
		protocol  string
		idle      int
		wantConns int64
	}{
		{ProtocolHTTP1, -1, 3},
		{ProtocolHTTP1, 0, 1}, // the default keeps them
		{ProtocolAuto, -1, 3},
		{ProtocolH2C, -1, 1},
	} {
		addr, conns := countingServer(t)
		tr := NewTransport(TransportOptions{Protocol: tc.protocol, MaxIdleConnsPerInstance: tc.idle})
		for range 3 {
			getVia(t, tr, addr)
		}
		tr.CloseIdleConnections()
		if got := conns.Load(); got != tc.wantConns {
			t.Errorf("protocol %s, MaxIdleConnsPerInstance %d: 3 requests in a row opened %d connections, want %d", tc.protocol, tc.idle, got, tc.wantConns)
		}
	}
}

// A negative IdleConnTimeout keeps idle connections without limit, over
// HTTP/1.1 and HTTP/2 alike (net/http's HTTP/2 would close a connection at
// once given a negative timeout).
func TestTransportIdleTimeoutNone(t *testing.T) {
	for _, protocol := range []string{ProtocolHTTP1, ProtocolH2C} {
		addr, conns := countingServer(t)
		tr := NewTransport(TransportOptions{Protocol: protocol, IdleConnTimeout: -1})
		for _, ht := range []*http.Transport{tr.h1, tr.h2} {
			if ht != nil && ht.IdleConnTimeout != 0 {
				t.Errorf("protocol %s: net/http IdleConnTimeout %v, want 0 (no limit)", protocol, ht.IdleConnTimeout)
			}
		}
		getVia(t, tr, addr)
		time.Sleep(20 * time.Millisecond) // idle for a while; no limit means it stays
		getVia(t, tr, addr)
		tr.CloseIdleConnections()
		if got := conns.Load(); got != 1 {
			t.Errorf("protocol %s: 2 requests apart opened %d connections, want 1", protocol, got)
		}
	}
}
