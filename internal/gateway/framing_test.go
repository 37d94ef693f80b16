package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/duohuo/duohuo/internal/gateway"
)

// recorder is a real loopback backend that records what reached it.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD /path body"
	hdrs []http.Header
	trl  []http.Header
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, fmt.Sprintf("%s %s %s", r.Method, r.URL.Path, b))
		rec.hdrs = append(rec.hdrs, r.Header.Clone())
		rec.trl = append(rec.trl, r.Trailer.Clone())
		rec.mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) addr() string { return rec.srv.Listener.Addr().String() }

func (rec *recorder) requests() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.seen...)
}

// gatewayTo starts a gateway with one public listener before backend; extra
// is added to the listener's mapping.
func gatewayTo(t *testing.T, backend, listenerExtra string) string {
	t.Helper()
	addr, _ := gatewayWithMetrics(t, backend, listenerExtra)
	return addr
}

// gatewayWithMetrics is gatewayTo, and the gateway's metrics.
func gatewayWithMetrics(t *testing.T, backend, listenerExtra string) (string, *prometheus.Registry) {
	t.Helper()
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"%s}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, listenerExtra, backend)
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: parse(t, cfg), Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Shutdown(context.Background()) })
	return g.Addrs()[0], reg
}

// rawExchange writes raw to addr and reads the responses until the server
// closes the connection or nothing more comes for a while. It returns the
// status codes read and whether the server closed the connection.
func rawExchange(t *testing.T, addr, raw string) (statuses []int, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		// Generous: every answer here is made at once; a connection
		// left open gives a timeout, which says "not closed".
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return statuses, false
			}
			return statuses, true // EOF or reset: closed
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
}

func TestFramingViolationsAreRejectedAndClosed(t *testing.T) {
	rec := newRecorder(t)
	gw, reg := gatewayWithMetrics(t, rec.addr(), "")
	refused := 0
	smuggled := "GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name string
		raw  string
	}{
		{"Content-Length and Transfer-Encoding together",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding on HTTP/1.0",
			"POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)},
		{"obs-folded Transfer-Encoding",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"Transfer-Encoding whose last coding is not chunked",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled},
		{"two Transfer-Encoding fields",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"white space before the colon",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled},
		{"chunk size not hexadecimal",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{"chunk size of 20 hex digits",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000005\r\nhello\r\n0\r\n\r\n"},
		{"chunk size ended by a bare LF",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"},
		{"obs-fold in the trailer section",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"},
		{"two different Content-Length values",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello"},
		{"chunk data not followed by CRLF",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"},
	} {
		refused++
		t.Run(tc.name, func(t *testing.T) {
			statuses, closed := rawExchange(t, gw, tc.raw)
			if len(statuses) != 1 || statuses[0] != http.StatusBadRequest || !closed {
				t.Errorf("answers %v, closed %v; want [400], closed", statuses, closed)
			}
		})
	}
	refused++
	t.Run("a sound request, then a refused one on the same connection", func(t *testing.T) {
		statuses, closed := rawExchange(t, gw, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"+
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled)
		if fmt.Sprint(statuses) != "[200 400]" || !closed {
			t.Errorf("answers %v, closed %v; want [200 400], closed", statuses, closed)
		}
	})
	for _, r := range rec.requests() {
		if strings.Contains(r, "SMUGGLED") {
			t.Errorf("backend received %q", r)
		}
	}
	if got := testutil.ToFloat64(gatewayMetric(t, reg, "duohuo_framing_refused_total")); got != float64(refused) {
		t.Errorf("duohuo_framing_refused_total = %v, want %d", got, refused)
	}
}

func TestFramingLetsGoodRequestsThrough(t *testing.T) {
	rec := newRecorder(t)
	gw := gatewayTo(t, rec.addr(), "")
	for _, tc := range []struct {
		name   string
		raw    string
		want   []int
		bodies []string
	}{
		{"chunked body with an extension and a trailer",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n",
			[]int{200}, []string{"POST /a hello world"}},
		{"pipelined requests with bodies of both framings",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
				"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
				"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]int{200, 200, 200}, []string{"POST /a abc", "POST /b de", "GET /c "}},
		{"HTTP/1.0 with Content-Length",
			"POST /d HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
			[]int{200}, []string{"POST /d hi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			statuses, closed := rawExchange(t, gw, tc.raw)
			if fmt.Sprint(statuses) != fmt.Sprint(tc.want) || !closed {
				t.Errorf("answers %v, closed %v; want %v, closed", statuses, closed, tc.want)
			}
			if got := rec.requests()[before:]; fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.bodies) {
				t.Errorf("backend received %q, want %q", got, tc.bodies)
			}
		})
	}
}

// headOf returns a request head of exactly size bytes (request line and
// fields with their CRLFs, the final empty line not counted).
func headOf(size int) string {
	const start = "GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
	pad := size - len(start) - 2
	return start + strings.Repeat("p", pad) + "\r\n\r\n"
}

func TestMaxHeaderBytesIsEnforcedExactly(t *testing.T) {
	rec := newRecorder(t)
	gw := gatewayTo(t, rec.addr(), ", max_header_bytes: 8KiB")
	for _, tc := range []struct {
		size int
		want int
	}{
		{8192, http.StatusOK},
		{8193, http.StatusRequestHeaderFieldsTooLarge},
		{12200, http.StatusRequestHeaderFieldsTooLarge},
	} {
		statuses, closed := rawExchange(t, gw, headOf(tc.size))
		if len(statuses) != 1 || statuses[0] != tc.want || !closed {
			t.Errorf("head of %d bytes: answers %v, closed %v; want [%d], closed", tc.size, statuses, closed, tc.want)
		}
	}
}

func TestTunnelsAreNotCheckedAsHTTP(t *testing.T) {
	// An echo server behind a 101: what follows the switch is not HTTP.
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		io.Copy(c, brw)
	}))
	t.Cleanup(back.Close)
	gw := gatewayTo(t, back.Listener.Addr().String(), "")
	c, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v, want 101", resp, err)
	}
	frame := "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n\x81\x05hello"
	io.WriteString(c, frame)
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != frame {
		t.Errorf("echo through the tunnel = %q, %v; want %q", got, err, frame)
	}
}

func TestClientTrailersForwardedButNotTheForbiddenOnes(t *testing.T) {
	rec := newRecorder(t)
	gw := gatewayTo(t, rec.addr(), "")
	raw := "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n" +
		"5\r\nhello\r\n0\r\n" +
		"X-Sum: 42\r\nX-Undeclared: yes\r\nContent-Length: 5\r\nX-Forwarded-For: 192.0.2.9\r\nAuthorization: Basic eA==\r\nConnection: close\r\n\r\n"
	statuses, _ := rawExchange(t, gw, raw)
	if fmt.Sprint(statuses) != "[200]" {
		t.Fatalf("answers %v, want [200]", statuses)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := rec.trl[len(rec.trl)-1]
	want := http.Header{"X-Sum": {"42"}, "X-Undeclared": {"yes"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backend's trailers = %v, want %v", got, want)
	}
}

func TestFramingIsCheckedOverTLS(t *testing.T) {
	rec := newRecorder(t)
	p := newPKI(t)
	certFile, keyFile := serverCert(t, p)
	gw := gatewayTo(t, rec.addr(), fmt.Sprintf(", tls: {cert_file: %s, key_file: %s}", certFile, keyFile))
	exchange := func(raw string) ([]int, bool) {
		c, err := tls.Dial("tcp", gw, &tls.Config{RootCAs: p.ca, ServerName: "api.internal", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		var statuses []int
		for {
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				var ne net.Error
				return statuses, !(errors.As(err, &ne) && ne.Timeout())
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses = append(statuses, resp.StatusCode)
		}
	}
	statuses, closed := exchange("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n")
	if fmt.Sprint(statuses) != "[400]" || !closed {
		t.Errorf("Content-Length with Transfer-Encoding over TLS: answers %v, closed %v; want [400], closed", statuses, closed)
	}
	statuses, _ = exchange("GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if fmt.Sprint(statuses) != "[200]" {
		t.Fatalf("a sound request over TLS: %v, want [200]", statuses)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) != 1 || rec.hdrs[0].Get("X-Forwarded-Proto") != "https" {
		t.Errorf("backend saw %q with X-Forwarded-Proto %q, want the one sound request, https", rec.seen, rec.hdrs[0].Get("X-Forwarded-Proto"))
	}
}
