package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/color"
)

// rawRequest sends target exactly as written (no client cleans it, as
// curl --path-as-is) and returns the status and body.
func rawRequest(t *testing.T, addr, target string, header ...string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gw.example\r\nConnection: close\r\n", target)
	for _, h := range header {
		fmt.Fprintf(c, "%s\r\n", h)
	}
	io.WriteString(c, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fileBackend is a real backend that resolves paths itself
// (http.FileServer cleans "..", and decodes %2e and %2F first): public/s.txt
// and admin/s.txt under one root.
func fileBackend(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{"public/s.txt": "public file", "admin/s.txt": "ADMIN SECRET"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// TestPathTricksDoNotLeaveTheRoutesPrefix: the only route is /public/; a
// backend that normalises paths must never be led to serve the admin
// file through it (docs/security.md, "Paths").
func TestPathTricksDoNotLeaveTheRoutesPrefix(t *testing.T) {
	backend := fileBackend(t)
	for _, mode := range []string{"reject", "keep", "unescape"} {
		t.Run(mode, func(t *testing.T) {
			g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0"}
services:
  - name: files
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - {name: public, service: files, match: {path_prefix: /public/}, escaped_path: %s}
`, backend, mode)), "")
			defer g.Shutdown(context.Background())
			addr := g.Addrs()[0]
			if st, body := rawRequest(t, addr, "/public/s.txt"); st != 200 || body != "public file" {
				t.Fatalf("GET /public/s.txt = %d %q, want 200 \"public file\"", st, body)
			}
			if st, body := rawRequest(t, addr, "/public/./x/../s.txt"); st != 200 || body != "public file" {
				t.Errorf("GET /public/./x/../s.txt = %d %q, want 200 \"public file\" (normalised, still in /public)", st, body)
			}
			for _, target := range []string{
				"/public/../admin/s.txt",
				"/public/%2e%2e/admin/s.txt",
				"/public/%2E%2E/admin/s.txt",
				"/public/.%2e/admin/s.txt",
				"/public/..%2Fadmin/s.txt",
				"/public/..%2fadmin/s.txt",
				"/public/..%5Cadmin/s.txt",
				`/public/..\admin/s.txt`,
				"/public//../admin/s.txt",
				"/public/%2e%2e%2fadmin%2fs.txt",
			} {
				st, body := rawRequest(t, addr, target)
				if strings.Contains(body, "ADMIN") {
					t.Errorf("GET %s = %d %q: the admin file was served through the /public/ route", target, st, body)
				}
				if st != 400 && st != 404 {
					t.Errorf("GET %s = %d, want 400 (escaped) or 404 (no route for the normalised path)", target, st)
				}
			}
		})
	}
}

func TestEscapedPathModes(t *testing.T) {
	seen := make(chan string, 1)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.URL.EscapedPath()
	}))
	defer s.Close()
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0"}
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - {name: reject, service: api, match: {path_prefix: /reject}}
  - {name: keep, service: api, match: {path_prefix: /keep}, escaped_path: keep}
  - {name: unescape, service: api, match: {path_prefix: /unescape}, escaped_path: unescape}
`, s.Listener.Addr())), "")
	defer g.Shutdown(context.Background())
	for _, tc := range []struct {
		target string
		status int
		sent   string // the path the instance got
	}{
		{"/reject/a%2Fb", 400, ""},
		{"/reject/a%3Bb/./c", 200, "/reject/a%3Bb/c"}, // other escapes are kept as sent
		{"/keep/a%2Fb", 200, "/keep/a%2Fb"},
		{"/keep/x/..%2F..%2Freject", 400, ""}, // its escapes hide dot segments
		{"/unescape/a%2Fb", 200, "/unescape/a/b"},
		{"/unescape/a/%2e%2e/b", 200, "/unescape/b"},
	} {
		st, _ := rawRequest(t, g.Addrs()[0], tc.target)
		if st != tc.status {
			t.Errorf("GET %s = %d, want %d", tc.target, st, tc.status)
			continue
		}
		if tc.status == 200 {
			if got := <-seen; got != tc.sent {
				t.Errorf("GET %s: the instance got %q, want %q", tc.target, got, tc.sent)
			}
		}
	}
}

func TestPathPrefixMatchesWholeSegments(t *testing.T) {
	pub, rest := upstream(t, "public"), upstream(t, "rest")
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0"}
services:
  - {name: pub, discovery: [{static: {instances: [{addr: "%s"}]}}]}
  - {name: rest, discovery: [{static: {instances: [{addr: "%s"}]}}]}
routes:
  - {name: pub, service: pub, match: {path_prefix: /public}}
  - {name: rest, service: rest}
`, pub, rest)), "")
	defer g.Shutdown(context.Background())
	for path, want := range map[string]string{
		"/public":        "public",
		"/public/":       "public",
		"/public/x":      "public",
		"/publicity":     "rest",
		"/public-admin/": "rest",
		"/publi":         "rest",
	} {
		if st, body := rawRequest(t, g.Addrs()[0], path); st != 200 || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, st, body, want)
		}
	}
}

// headerEcho answers with the request headers it got, as JSON.
func headerEcho(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// clientFrom returns a client whose connections leave from the loopback
// address src (127.0.0.0/8 is all loopback), over h2c when h2c is set.
func clientFrom(t *testing.T, src string, h2c bool) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func getHeaders(t *testing.T, c *http.Client, url string, h http.Header) (http.Header, int) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got http.Header
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
	}
	return got, resp.ProtoMajor
}

// TestForwardingHeadersAreBelievedOnlyFromTrustedProxies: 127.0.0.2 is
// the listener's trusted proxy, 127.0.0.1 an ordinary client.
func TestForwardingHeadersAreBelievedOnlyFromTrustedProxies(t *testing.T) {
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0", trusted_proxies: [127.0.0.2]}
services:
  - name: echo
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - {name: echo, service: echo}
`, headerEcho(t))), "")
	defer g.Shutdown(context.Background())
	url := "http://" + g.Addrs()[0] + "/"
	spoof := func() http.Header {
		return http.Header{
			"X-Forwarded-For":   {"6.6.6.6"},
			"X-Forwarded-Proto": {"https"},
			"X-Forwarded-Host":  {"evil.example"},
			"Forwarded":         {"for=6.6.6.6;proto=https"},
			"X-Real-Ip":         {"6.6.6.6"},
			"X-Request-Id":      {"chosen-by-client"},
		}
	}
	for _, h2c := range []bool{false, true} {
		got, proto := getHeaders(t, clientFrom(t, "127.0.0.1", h2c), url, spoof())
		if h2c && proto != 2 {
			t.Fatalf("the h2c client spoke HTTP/%d", proto)
		}
		for k, want := range map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  g.Addrs()[0],
			"Forwarded":         "",
			"X-Real-Ip":         "127.0.0.1",
		} {
			if v := strings.Join(got[k], ", "); v != want {
				t.Errorf("HTTP/%d from an untrusted client: the instance got %s %q, want %q (replaced)", proto, k, v, want)
			}
		}
		if id := got.Get("X-Request-Id"); id == "" || id == "chosen-by-client" {
			t.Errorf("HTTP/%d from an untrusted client: X-Request-Id %q, want a new one", proto, id)
		}
	}

	got, _ := getHeaders(t, clientFrom(t, "127.0.0.2", false), url, spoof())
	for k, want := range map[string]string{
		"X-Forwarded-For":   "6.6.6.6, 127.0.0.2",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "evil.example",
		"Forwarded":         `for=6.6.6.6;proto=https, for=127.0.0.2;proto=http;host="` + g.Addrs()[0] + `"`,
		"X-Real-Ip":         "6.6.6.6",
		"X-Request-Id":      "chosen-by-client",
	} {
		if v := strings.Join(got[k], ", "); v != want {
			t.Errorf("from the trusted proxy: the instance got %s %q, want %q", k, v, want)
		}
	}
}

// TestASecondBaggageHeaderDoesNotSlipThrough: the next hop believes the
// gateway (it is in its trusted networks), so whatever color the gateway
// lets through from an outside client becomes a lane there.
func TestASecondBaggageHeaderDoesNotSlipThrough(t *testing.T) {
	next, err := color.New(color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(next.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lane, _ := color.FromContext(r.Context())
		json.NewEncoder(w).Encode(http.Header{"Lane": {lane}, "Baggage": r.Header.Values("Baggage")})
	})))
	defer s.Close()
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0"}
services:
  - name: next
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - {name: next, service: next}
`, s.Listener.Addr())), "")
	defer g.Shutdown(context.Background())
	for _, h2c := range []bool{false, true} {
		got, proto := getHeaders(t, clientFrom(t, "127.0.0.1", h2c), "http://"+g.Addrs()[0]+"/",
			http.Header{"Baggage": {"userId=alice", "gray.lane=v2"}})
		if lane := got.Get("Lane"); lane != "" {
			t.Errorf("HTTP/%d: the next hop served lane %q from an outside client's second baggage header", proto, lane)
		}
		if b := strings.Join(got["Baggage"], ","); b != "userId=alice" {
			t.Errorf("HTTP/%d: the next hop got baggage %q, want the other members only (userId=alice)", proto, b)
		}
	}
}

// TestFaultTriggersOnlyFromTrustedPeers: 127.0.0.2 is in
// gray.trusted_networks, 127.0.0.1 is not.
func TestFaultTriggersOnlyFromTrustedPeers(t *testing.T) {
	g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0"}
services:
  - name: echo
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - {name: echo, service: echo}
gray:
  trusted_networks: [127.0.0.2]
faults:
  rules:
    - {name: drill, spec: "abort=503,header"}
`, headerEcho(t))), "")
	defer g.Shutdown(context.Background())
	url := "http://" + g.Addrs()[0] + "/"
	ask := func() http.Header { return http.Header{"X-Duohuo-Fault-Abort-Request": {"503"}} }

	got, _ := getHeaders(t, clientFrom(t, "127.0.0.1", false), url, ask())
	if got == nil {
		t.Fatal("an untrusted client's fault trigger was obeyed")
	}
	if v := got.Get("X-Duohuo-Fault-Abort-Request"); v != "" {
		t.Errorf("the instance got an untrusted client's fault trigger %q: a next hop that trusts the gateway would obey it", v)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header = ask()
	resp, err := clientFrom(t, "127.0.0.2", false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("X-Duohuo-Fault") != "abort" {
		t.Errorf("a trusted peer's trigger: %d %q, want 503 abort", resp.StatusCode, resp.Header.Get("X-Duohuo-Fault"))
	}
}

// switcher is a backend that answers every request with 101 for the
// protocol it names itself (upgrade: the request's, else "foo"), then
// answers what comes through the tunnel: an inner request gets "inner:
// " and its request line back. It records the Upgrade header it got and
// whether anything came through a tunnel.
type switcher struct {
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	upgrades []string
	inner    []string
}

func newSwitcher(t *testing.T) *switcher {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &switcher{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *switcher) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	up := req.Header.Get("Upgrade")
	s.mu.Lock()
	s.upgrades = append(s.upgrades, up)
	s.mu.Unlock()
	if up == "" {
		up = "foo" // a backend that switches anyway
	}
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	s.mu.Lock()
	s.inner = append(s.inner, strings.TrimSpace(line))
	s.mu.Unlock()
	fmt.Fprintf(c, "inner: %s", line)
}

func (s *switcher) seen() (upgrades, inner []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.upgrades...), append([]string(nil), s.inner...)
}

// TestUpgradeTunnelsOnlyListedProtocols: websocket (the default) and the
// tokens a route lists are tunnelled; any other Upgrade (h2c included) is
// forwarded as a plain request, and a 101 the backend sends anyway opens
// no tunnel.
func TestUpgradeTunnelsOnlyListedProtocols(t *testing.T) {
	for _, tc := range []struct {
		name, upgrades, ask string
		tunnel              bool
	}{
		{"websocket by default", "", "websocket", true},
		{"an unlisted token", "", "foo", false},
		{"h2c", "", "h2c", false},
		{"two tokens at once", "", "websocket, foo", false},
		{"a listed token", "upgrades: [foo]", "foo", true},
		{"websocket when the list leaves it out", "upgrades: [foo]", "websocket", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw := newSwitcher(t)
			extra := ""
			if tc.upgrades != "" {
				extra = ", " + tc.upgrades
			}
			g := start(t, parse(t, fmt.Sprintf(`
listeners:
  - {name: public, listen: "127.0.0.1:0"}
services:
  - name: sw
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - {name: sw, service: sw%s}
`, sw.ln.Addr(), extra)), "")
			defer g.Shutdown(context.Background())
			c, err := net.DialTimeout("tcp", g.Addrs()[0], 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", tc.ask)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			switched := err == nil && resp.StatusCode == 101
			if switched {
				io.WriteString(c, "GET /admin/secret HTTP/1.1\r\n")
			}
			rest, _ := io.ReadAll(br) // until the tunnel or the connection ends
			ups, inner := sw.seen()
			if tc.tunnel {
				if !switched || !strings.Contains(string(rest), "inner: GET /admin/secret") {
					t.Fatalf("Upgrade: %s was not tunnelled (101: %v, then %q)", tc.ask, switched, rest)
				}
				if len(ups) != 1 || ups[0] != tc.ask {
					t.Errorf("the backend got Upgrade %q, want %q", ups, tc.ask)
				}
				return
			}
			if len(ups) != 1 || ups[0] != "" {
				t.Errorf("the backend got Upgrade %q, want none: an unlisted protocol is asked as a plain request", ups)
			}
			if switched || len(inner) > 0 {
				t.Errorf("Upgrade: %s: the backend's 101 opened a tunnel (101 to the client: %v; through it: %q)", tc.ask, switched, inner)
			}
		})
	}
}

// TestErrorDetailHidesServicesFromClients: the default listener gives a
// reason code only; error_detail: full gives the details.
func TestErrorDetailHidesServicesFromClients(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "instances.yaml"), []byte("services:\n  orders-db-primary: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, parse(t, `
listeners:
  - {name: public, listen: "127.0.0.1:0"}
  - {name: internal, listen: "127.0.0.1:0", error_detail: full}
services:
  - name: orders-db-primary
    discovery: [{file: {path: instances.yaml}}]
routes:
  - {name: orders, service: orders-db-primary}
`), dir)
	defer g.Shutdown(context.Background())
	for i, want := range []string{"no_healthy_instance", "no healthy instance: orders-db-primary"} {
		resp, err := http.Get("http://" + g.Addrs()[i] + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Duohuo-Error"); resp.StatusCode != 503 || got != want {
			t.Errorf("listener %d: %d X-Duohuo-Error %q, want 503 %q", i, resp.StatusCode, got, want)
		}
		if i == 0 && strings.Contains(string(body), "orders") {
			t.Errorf("the public listener's body names the service: %q", body)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
