package conformance

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// testCase is one exchange the suite sends, byte for byte, directly to the
// upstream and through the gateway.
type testCase struct {
	name string
	// req is the raw request (or requests) as written on the wire. The
	// case header is added after the first line; "{case}" stands for its
	// value in later requests.
	req string
	// body, if set, streams after req (large bodies are never held).
	body func() io.Reader
	// expect100: req carries Expect: 100-continue; body is sent after
	// the 100 Continue.
	expect100 bool
	// methods are the methods of the pipelined requests, in order, for
	// reading their responses (a HEAD answer has no body); default: one
	// request, the method of req.
	methods []string
	// drain: read on after the expected responses until the server
	// closes or falls silent, to see whether it closes and whether it
	// answers anything it should not (a smuggled request).
	drain bool
	// firstBytes > 0: read only this many bytes of the body, proving a
	// stream is forwarded as it comes, then hang up.
	firstBytes int
	// tunnel is written after a 101, and what comes back is kept, up
	// to tunnelEnd if set (else until the server closes or falls silent).
	tunnel, tunnelEnd string
	// noUserAgent: send no User-Agent. Every other case sends one, as
	// real clients do.
	noUserAgent bool
	// local: the HTTP server answers this itself, before any handler
	// runs, so the answer names no hop.
	local bool

	// differs, if set, says why the gateway's answer is not the direct
	// one and where the product documents it; the direct answer is then
	// not compared. Empty: the two must be the same after normalise.
	differs string
	// check asserts the gateway side: its exchange and what reached the
	// upstream through it.
	check func(t *testing.T, x *exchange, seen []seenRequest)
}

// userAgent is the User-Agent of the suite's requests.
const userAgent = "duohuo-conformance/1"

// wire returns the bytes of the request, carrying the case header with
// value id (and a User-Agent unless the case says not to).
func (c *testCase) wire(id string) []byte {
	s := strings.ReplaceAll(c.req, "{case}", id)
	add := ""
	if !strings.Contains(s, caseHeader) {
		add += caseHeader + ": " + id + "\r\n"
	}
	first, _, _ := strings.Cut(s, "\r\n\r\n")
	if !c.noUserAgent && !strings.Contains(first, "User-Agent:") {
		add += "User-Agent: " + userAgent + "\r\n"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i+1] + add + s[i+1:]
	}
	return []byte(s)
}

// req builds a request: the request line, the header lines, the blank line
// and the body.
func req(line string, lines ...string) string {
	var b strings.Builder
	b.WriteString(line + "\r\n")
	body := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "\r\n") { // the body
			body = l[2:]
			continue
		}
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// body marks a req argument as the body.
func body(s string) string { return "\r\n" + s }

func get(target string, lines ...string) string {
	return req("GET "+target+" HTTP/1.1", append([]string{"Host: " + binHost}, lines...)...)
}

func withBody(method, target, contentType, b string, lines ...string) string {
	return req(method+" "+target+" HTTP/1.1", append([]string{
		"Host: " + binHost, "Content-Type: " + contentType, fmt.Sprintf("Content-Length: %d", len(b))},
		append(lines, body(b))...)...)
}

// Documents the differences point to.
const (
	docFraming = "docs/security.md#conformance (request framing, RFC 9112 sections 6.1 and 6.3)"
	docPaths   = "docs/security.md#conformance (paths are normalised before routing, RFC 3986 section 5.2.4)"
	docTrust   = "docs/security.md#conformance (what the gateway believes of a client)"
)

// smuggled is a request hidden in the body of another: it must never be
// answered or reach the upstream.
const smuggled = "GET /public/SMUGGLED HTTP/1.1\r\nHost: " + edgeHost + "\r\n" + caseHeader + ": {case}\r\n\r\n"

func cases() []testCase {
	long := strings.Repeat("x", 6000)
	return []testCase{
		// Methods.
		{name: "GET", req: get("/get?a=1&b=two")},
		{name: "POST form", req: withBody("POST", "/post", "application/x-www-form-urlencoded", "a=1&b=2")},
		{name: "PUT JSON", req: withBody("PUT", "/put", "application/json", `{"k":"v"}`)},
		{name: "PATCH", req: withBody("PATCH", "/patch", "text/plain", "patch body")},
		{name: "DELETE", req: req("DELETE /delete HTTP/1.1", "Host: "+binHost)},
		{name: "extension method", req: req("PURGE /anything HTTP/1.1", "Host: "+binHost)},
		{name: "POST with an empty body", req: withBody("POST", "/anything", "text/plain", "")},
		{name: "path and query are passed as sent", req: get("/anything/a%20b/c?x=%20y&z=%2F")},

		// Encodings.
		{name: "gzip", req: get("/gzip", "Accept-Encoding: gzip")},
		{name: "gzip unasked", req: get("/gzip")},
		{name: "deflate", req: get("/deflate", "Accept-Encoding: deflate")},
		{name: "UTF-8 page", req: get("/encoding/utf8")},
		{name: "Accept-Encoding with weights", req: get("/get", "Accept-Encoding: br;q=1.0, gzip;q=0.5, *;q=0")},
		{name: "JSON", req: get("/json")},
		{name: "XML", req: get("/xml")},
		{name: "HTML", req: get("/html")},
		{name: "binary image", req: get("/image/png")},
		{name: "base64", req: get("/base64/SGVsbG8gd29ybGQ=")},

		// Bodies.
		{name: "1 MB upload", req: req("POST /anything HTTP/1.1", "Host: "+binHost, "Content-Type: application/octet-stream", "Content-Length: 1000000"), body: patternBody(1_000_000)},
		{name: "1 MB chunked upload", req: req("POST /anything HTTP/1.1", "Host: "+binHost, "Content-Type: application/octet-stream", "Transfer-Encoding: chunked"), body: chunkedBody(1_000_000, 65536, "")},
		{name: "50 MB upload", req: req("POST /upload HTTP/1.1", "Host: "+binHost, "Content-Type: application/octet-stream", "Content-Length: 52428800"), body: patternBody(50 << 20)},
		{name: "50 MB chunked upload", req: req("POST /upload HTTP/1.1", "Host: "+binHost, "Content-Type: application/octet-stream", "Transfer-Encoding: chunked"), body: chunkedBody(50<<20, 1<<20, "")},
		{name: "50 MB download", req: get("/stream-bytes/52428800?seed=7&chunk_size=65536")},
		{name: "1 MB download", req: get("/bytes/1048576?seed=3")},

		// Chunked uploads.
		{name: "chunked upload", req: req("POST /post HTTP/1.1", "Host: "+binHost, "Content-Type: text/plain", "Transfer-Encoding: chunked", body("5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"))},
		{name: "chunk extensions", req: req("POST /post HTTP/1.1", "Host: "+binHost, "Content-Type: text/plain", "Transfer-Encoding: chunked", body("5;name=value\r\nhello\r\n0;last\r\n\r\n"))},
		{name: "upper-case chunk sizes", req: req("POST /post HTTP/1.1", "Host: "+binHost, "Content-Type: text/plain", "Transfer-Encoding: chunked", body("A\r\n0123456789\r\n0\r\n\r\n"))},
		{
			name: "client trailers pass, hop-by-hop and forbidden ones do not",
			req: req("POST /post HTTP/1.1", "Host: "+binHost, "Content-Type: text/plain", "Transfer-Encoding: chunked", "Trailer: X-Checksum, X-Forwarded-For, Keep-Alive",
				body("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Forwarded-For: 6.6.6.6\r\nKeep-Alive: timeout=5\r\n\r\n")),
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 200)
				tr := onlyOne(t, seen).Trailer
				if tr.Get("X-Checksum") != "abc" {
					t.Errorf("upstream trailers %v: want X-Checksum: abc forwarded", tr)
				}
				for _, k := range []string{"X-Forwarded-For", "Keep-Alive"} {
					if tr.Get(k) != "" {
						t.Errorf("upstream trailers %v: %s reached the upstream (RFC 9110, section 6.5.1)", tr, k)
					}
				}
			},
		},

		// Expect.
		{name: "Expect: 100-continue", req: req("POST /post HTTP/1.1", "Host: "+binHost, "Content-Type: text/plain", "Content-Length: 5", "Expect: 100-continue"), expect100: true, body: func() io.Reader { return strings.NewReader("hello") }},
		{name: "Expect: 100-continue with 1 MB", req: req("PUT /anything HTTP/1.1", "Host: "+binHost, "Content-Type: application/octet-stream", "Content-Length: 1000000", "Expect: 100-continue"), expect100: true, body: patternBody(1_000_000)},
		{name: "Expect: 100-continue chunked", req: req("POST /anything HTTP/1.1", "Host: "+binHost, "Content-Type: text/plain", "Transfer-Encoding: chunked", "Expect: 100-continue"), expect100: true, body: chunkedBody(300_000, 4096, "")},

		// Streaming and drip timing.
		{name: "drip", req: get("/drip?duration=1&numbytes=4")},
		{name: "drip after a delay", req: get("/drip?delay=1&duration=0&numbytes=3")},
		{name: "drip with a status", req: get("/drip?duration=0&numbytes=2&code=503")},
		// A body of known length is not flushed piece by piece
		// (docs/resilience.md): the drips above arrive whole; a body
		// of unknown length streams, as "SSE is streamed" shows.
		{name: "JSON stream", req: get("/stream/5")},
		{name: "byte stream in small chunks", req: get("/stream-bytes/100000?seed=2&chunk_size=1000")},

		// Ranges and conditional requests.
		{name: "range", req: get("/range/100", "Range: bytes=10-19")},
		{name: "suffix range", req: get("/range/100", "Range: bytes=-5")},
		{name: "range past the end", req: get("/range/100", "Range: bytes=90-200")},
		{name: "unsatisfiable range", req: get("/range/100", "Range: bytes=500-600")},
		{name: "If-None-Match", req: get("/etag/abc", `If-None-Match: "abc"`)},
		{name: "If-Match fails", req: get("/etag/abc", `If-Match: "xyz"`)},
		{name: "cache validators", req: get("/cache", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT")},

		// Redirects.
		{name: "redirect", req: get("/redirect/2")},
		{name: "absolute redirect", req: get("/absolute-redirect/1")},
		{name: "relative redirect", req: get("/relative-redirect/1")},
		{name: "redirect-to with 307", req: get("/redirect-to?url=/get&status_code=307")},

		// Cookies.
		{name: "cookies sent", req: get("/cookies", "Cookie: a=1; b=2")},
		{name: "several Set-Cookie", req: get("/cookies/set?x=1&y=2")},
		{name: "cookies deleted", req: get("/cookies/delete?x", "Cookie: x=1")},

		// Status codes.
		{name: "status 200", req: get("/status/200")},
		{name: "status 201", req: get("/status/201")},
		{name: "status 204", req: get("/status/204")},
		{name: "status 304", req: get("/status/304")},
		{name: "status 400", req: get("/status/400")},
		{name: "status 401", req: get("/status/401")},
		{name: "status 404", req: get("/status/404")},
		{name: "status 418", req: get("/status/418")},
		{name: "status 500", req: get("/status/500")},
		{name: "status 502", req: get("/status/502")},
		{name: "status 503", req: get("/status/503")},
		{name: "POST answered 503", req: withBody("POST", "/status/503", "text/plain", "x")},
		// 1xx interim responses are forwarded (RFC 9110, section 15.2).
		{name: "103 Early Hints", req: get("/status/103")},

		// HEAD and OPTIONS.
		{name: "HEAD", req: req("HEAD /get HTTP/1.1", "Host: "+binHost)},
		{name: "HEAD of a HEAD route", req: req("HEAD /head HTTP/1.1", "Host: "+binHost)},
		{name: "HEAD of bytes", req: req("HEAD /bytes/1000 HTTP/1.1", "Host: "+binHost)},
		{name: "OPTIONS preflight", req: req("OPTIONS /get HTTP/1.1", "Host: "+binHost, "Origin: http://app.test", "Access-Control-Request-Method: PUT", "Access-Control-Request-Headers: X-Token")},
		{name: "OPTIONS asterisk", req: req("OPTIONS * HTTP/1.1", "Host: "+binHost), local: true},

		// Trailers and delays.
		{name: "response trailers", req: get("/trailers?X-Foo=bar&X-Baz=qux")},
		{name: "delay", req: get("/delay/1")},

		// Server-sent events.
		{name: "SSE", req: get("/sse?count=3&duration=1&delay=0", "Accept: text/event-stream")},
		// The second event comes 50 s after the first: reading the first
		// proves the stream is forwarded as it comes, not buffered.
		{name: "SSE is streamed", req: get("/sse?count=2&duration=100", "Accept: text/event-stream"), firstBytes: 5},

		// Long URLs and odd headers.
		{name: "long query", req: get("/anything?q=" + long)},
		{name: "long path", req: get("/anything/" + long[:3000])},
		{name: "UTF-8 header value", req: get("/headers", "X-Name: caf\xc3\xa9 \xe5\xa4\x9a\xe6\xb4\xbb")},
		{name: "obs-text header value", req: get("/headers", "X-Latin: caf\xe9")},
		{name: "header whitespace", req: get("/headers", "X-Space: \t a \t b \t")},
		{name: "repeated header", req: get("/headers", "X-Multi: 1", "X-Multi: 2", "X-Multi: 3")},
		{name: "7 KB of headers", req: get("/headers", "X-Big: "+strings.Repeat("b", 7000))},
		{name: "no User-Agent", req: get("/headers"), noUserAgent: true},
		{name: "User-Agent passes", req: get("/user-agent", "User-Agent: conformance/1.0")},

		// Pipelining.
		{name: "three pipelined GETs", req: get("/get?n=1") + get("/get?n=2", caseHeader+": {case}", "User-Agent: "+userAgent) + get("/get?n=3", caseHeader+": {case}", "User-Agent: "+userAgent), methods: []string{"GET", "GET", "GET"}},
		{name: "pipelined POST then GET", req: withBody("POST", "/post", "text/plain", "first") + get("/get?n=2", caseHeader+": {case}", "User-Agent: "+userAgent), methods: []string{"POST", "GET"}},
		{name: "pipelined HEAD then GET", req: req("HEAD /get HTTP/1.1", "Host: "+binHost) + get("/get?n=2", caseHeader+": {case}", "User-Agent: "+userAgent), methods: []string{"HEAD", "GET"}},

		// Absolute-form and HTTP/1.0.
		{name: "absolute-form", req: req("GET http://"+binHost+"/get HTTP/1.1", "Host: "+binHost)},
		// RFC 9112, section 3.2.2: the target's authority wins over Host.
		{name: "absolute-form wins over Host", req: req("GET http://"+binHost+"/anything HTTP/1.1", "Host: other.test")},
		{name: "HTTP/1.0", req: req("GET /get HTTP/1.0", "Host: "+binHost), drain: true},
		{name: "HTTP/1.0 keep-alive", req: req("GET /get HTTP/1.0", "Host: "+binHost, "Connection: keep-alive") + req("GET /get?n=2 HTTP/1.0", "Host: "+binHost, caseHeader+": {case}", "User-Agent: "+userAgent), methods: []string{"GET", "GET"}, drain: true},
		{name: "HTTP/1.0 POST", req: req("POST /post HTTP/1.0", "Host: "+binHost, "Content-Type: text/plain", "Content-Length: 4", body("data")), drain: true},

		// Framing that both servers refuse alike.
		{name: "two different Content-Lengths", req: req("POST /post HTTP/1.1", "Host: "+binHost, "Content-Length: 5", "Content-Length: 6", body("hello!")), drain: true, local: true},
		{name: "space before the colon", req: req("GET /get HTTP/1.1", "Host: "+binHost, "X-Bad : 1"), drain: true, local: true,
			differs: docFraming, check: refusedAndClosed},
		{name: "no Host", req: req("GET /get HTTP/1.1"), drain: true, local: true},

		// Request smuggling (RFC 9112, section 6.3): every shape is a 400
		// and a closed connection, and the hidden request is never run.
		{
			name:  "Content-Length with Transfer-Encoding",
			req:   req("POST /public/post HTTP/1.1", "Host: "+edgeHost, "Content-Length: 4", "Transfer-Encoding: chunked", body("0\r\n\r\n"+smuggled)),
			drain: true, differs: docFraming, check: refusedAndClosed,
		},
		{
			name:  "Transfer-Encoding on HTTP/1.0",
			req:   req("POST /public/post HTTP/1.0", "Host: "+edgeHost, "Connection: keep-alive", "Transfer-Encoding: chunked", body("0\r\n\r\n"+smuggled)),
			drain: true, differs: docFraming, check: refusedAndClosed,
		},
		{
			name:  "obs-folded Transfer-Encoding",
			req:   req("POST /public/post HTTP/1.1", "Host: "+edgeHost, "Content-Length: 4", "Transfer-Encoding:", " chunked", body("0\r\n\r\n"+smuggled)),
			drain: true, differs: docFraming, check: refusedAndClosed,
		},
		{
			name:  "chunk size zz",
			req:   req("POST /public/post HTTP/1.1", "Host: "+edgeHost, "Transfer-Encoding: chunked", body("zz\r\nhello\r\n0\r\n\r\n")),
			drain: true, differs: docFraming, check: refusedAndClosed,
		},
		{
			name:  "chunk size of 20 hex digits",
			req:   req("POST /public/post HTTP/1.1", "Host: "+edgeHost, "Transfer-Encoding: chunked", body("00000000000000000005\r\nhello\r\n0\r\n\r\n")),
			drain: true, differs: docFraming, check: refusedAndClosed,
		},
		{
			name:  "chunk size line ended by a bare LF",
			req:   req("POST /public/post HTTP/1.1", "Host: "+edgeHost, "Transfer-Encoding: chunked", body("5\nhello\r\n0\r\n\r\n")),
			drain: true, differs: docFraming, check: refusedAndClosed,
		},

		// Paths and prefixes: the gateway routes the path it forwards.
		{
			name:    "dot segments leave the prefix",
			req:     req("GET /public/../admin/s.txt HTTP/1.1", "Host: "+edgeHost),
			differs: docPaths, check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 404)
				neverAdmin(t, x, seen)
			},
		},
		{
			name:    "encoded dot segments",
			req:     req("GET /public/%2e%2e/admin/s.txt HTTP/1.1", "Host: "+edgeHost),
			differs: docPaths, check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 400)
				neverAdmin(t, x, seen)
			},
		},
		{
			name:    "encoded slash",
			req:     req("GET /public/..%2Fadmin/s.txt HTTP/1.1", "Host: "+edgeHost),
			differs: docPaths, check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 400)
				neverAdmin(t, x, seen)
			},
		},
		{
			name:    "a prefix matches whole segments",
			req:     req("GET /publicity HTTP/1.1", "Host: "+edgeHost),
			differs: docPaths, check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 404)
				if len(seen) != 0 {
					t.Errorf("/publicity reached the upstream through the route of /public: %v", seen)
				}
			},
		},
		{name: "the prefix itself", req: req("GET /public HTTP/1.1", "Host: "+edgeHost)},
		{name: "below the prefix", req: req("GET /public/get HTTP/1.1", "Host: "+edgeHost)},

		// What the gateway believes of an untrusted client.
		{
			name:    "a second baggage header cannot carry a lane",
			req:     get("/headers", "Baggage: user=1", "Baggage: gray.lane=v2"),
			differs: docTrust, check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 200)
				for _, v := range onlyOne(t, seen).Header.Values("Baggage") {
					if strings.Contains(v, "gray.lane") {
						t.Errorf("upstream got Baggage %q from an untrusted client", v)
					}
				}
			},
		},
		{name: "fault abort header from an untrusted client", req: get("/status/200", "X-Duohuo-Fault-Abort-Request: 503")},
		{name: "fault reset header from an untrusted client", req: get("/status/200", "X-Duohuo-Fault-Abort-Request: reset")},
		{
			name:    "forwarding headers from an untrusted client are replaced",
			req:     get("/headers", "X-Forwarded-For: 6.6.6.6", "X-Forwarded-Proto: https", "X-Forwarded-Host: bank.test", "Forwarded: for=6.6.6.6;proto=https", "X-Real-IP: 6.6.6.6", "X-Request-Id: client-chosen"),
			differs: docTrust, check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 200)
				h := onlyOne(t, seen).Header
				if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
					t.Errorf("upstream X-Forwarded-For = %q, want [127.0.0.1] (the client's own address, not appended to)", got)
				}
				if got := h.Get("X-Forwarded-Proto"); got != "http" {
					t.Errorf("upstream X-Forwarded-Proto = %q, want http", got)
				}
				if got := h.Get("X-Forwarded-Host"); got != binHost {
					t.Errorf("upstream X-Forwarded-Host = %q, want %s", got, binHost)
				}
				for _, k := range []string{"Forwarded", "X-Real-Ip", "X-Request-Id"} {
					for _, v := range h.Values(k) {
						if strings.Contains(v, "6.6.6.6") || strings.Contains(v, "client-chosen") {
							t.Errorf("upstream %s = %q: the client's value passed", k, v)
						}
					}
				}
			},
		},

		// Upgrades.
		{
			name: "h2c upgrade is never forwarded",
			req:  get("/headers", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"),
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, 200)
				if u := onlyOne(t, seen).Header.Get("Upgrade"); u != "" {
					t.Errorf("upstream got Upgrade %q", u)
				}
			},
		},
		{
			name:    "an Upgrade that is not websocket is not tunnelled",
			req:     get("/tunnel", "Connection: Upgrade", "Upgrade: raw"),
			tunnel:  "GET /admin/secret HTTP/1.1\r\nHost: " + binHost + "\r\n\r\n",
			differs: "docs/security.md#conformance (only websocket upgrades are tunnelled)",
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				if x.last().Status == http.StatusSwitchingProtocols {
					t.Errorf("gateway tunnelled Upgrade: raw (101)")
				}
				neverAdmin(t, x, seen)
			},
		},
		{
			name:      "websocket",
			req:       get("/websocket/echo", "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
			tunnel:    "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", // a masked text frame "Hello" (RFC 6455, section 5.7)
			tunnelEnd: "Hello",
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, http.StatusSwitchingProtocols)
				if !strings.Contains(string(x.After), "Hello") {
					t.Errorf("no echo through the tunnel: %q", x.After)
				}
			},
		},

		// Methods and hops the gateway answers itself.
		{
			name:    "TRACE is refused",
			req:     req("TRACE /anything HTTP/1.1", "Host: "+binHost, "Cookie: session=secret"),
			differs: "docs/security.md#conformance (TRACE would echo cookies and credentials back)",
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, http.StatusMethodNotAllowed)
				if len(seen) != 0 {
					t.Errorf("TRACE reached the upstream: %v", seen)
				}
			},
		},
		{
			name:    "OPTIONS with Max-Forwards: 0 is answered by the gateway",
			req:     req("OPTIONS /get HTTP/1.1", "Host: "+binHost, "Max-Forwards: 0"),
			differs: "docs/security.md#conformance (Max-Forwards, RFC 9110 section 7.6.2)",
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				if s := x.last().Status; s/100 != 2 {
					t.Errorf("status %d, want 2xx from the gateway itself", s)
				}
				if len(seen) != 0 {
					t.Errorf("OPTIONS with Max-Forwards: 0 reached the upstream: %v", seen)
				}
			},
		},
		{
			name: "Max-Forwards is decremented",
			req:  req("OPTIONS /get HTTP/1.1", "Host: "+binHost, "Max-Forwards: 5"),
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				if got := onlyOne(t, seen).Header.Get("Max-Forwards"); got != "4" {
					t.Errorf("upstream Max-Forwards = %q, want 4", got)
				}
			},
		},

		// Limits.
		{
			name:    "a header block over max_header_bytes",
			req:     get("/headers", "X-Big: "+strings.Repeat("b", 10000)),
			differs: "docs/configuration.md (listeners[].max_header_bytes: 8KiB in this suite)",
			drain:   true,
			check: func(t *testing.T, x *exchange, seen []seenRequest) {
				wantStatus(t, x, http.StatusRequestHeaderFieldsTooLarge)
			},
		},
	}
}

// refusedAndClosed asserts a smuggling attempt's outcome: one 400, the
// connection closed, and the hidden request never run.
func refusedAndClosed(t *testing.T, x *exchange, seen []seenRequest) {
	t.Helper()
	wantStatus(t, x, http.StatusBadRequest)
	if len(x.Responses) != 1 {
		t.Errorf("%d responses, want one", len(x.Responses))
	}
	if !x.Closed {
		t.Errorf("connection left open after a request whose framing was refused")
	}
	if strings.Contains(string(x.After), "HTTP/1.") {
		t.Errorf("answered the hidden request: %q", x.After)
	}
	for _, s := range seen {
		if strings.Contains(s.RequestURI, "SMUGGLED") {
			t.Errorf("the hidden request reached the upstream: %s %s", s.Method, s.RequestURI)
		}
	}
}

func wantStatus(t *testing.T, x *exchange, want int) {
	t.Helper()
	if x.Err != nil && len(x.Responses) == 0 {
		t.Errorf("no response: %v; want %d", x.Err, want)
		return
	}
	if got := x.last().Status; got != want {
		t.Errorf("status %d, want %d (body %.200q)", got, want, x.last().Body)
	}
}

func neverAdmin(t *testing.T, x *exchange, seen []seenRequest) {
	t.Helper()
	for _, r := range x.Responses {
		if strings.Contains(string(r.Body), adminSecret) {
			t.Errorf("the client read the admin area")
		}
	}
	if strings.Contains(string(x.After), adminSecret) {
		t.Errorf("the client read the admin area through a tunnel")
	}
	for _, s := range seen {
		if strings.Contains(s.RequestURI, "admin") {
			t.Errorf("the upstream was asked for %s", s.RequestURI)
		}
	}
}

func onlyOne(t *testing.T, seen []seenRequest) seenRequest {
	t.Helper()
	if len(seen) != 1 {
		t.Fatalf("%d requests reached the upstream through the gateway, want 1", len(seen))
	}
	return seen[0]
}
