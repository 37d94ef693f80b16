package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

func TestViaNamesTheProtocolOfEachHop(t *testing.T) {
	rec := newRecorder(t) // HTTP/1.1
	gw := gatewayTo(t, rec.addr(), "")
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + gw + "/via")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Via"); got != "1.1 duohuo" {
		t.Errorf("Via to the HTTP/2 client = %q, want %q (the response came over HTTP/1.1)", got, "1.1 duohuo")
	}
	rec.mu.Lock()
	got := rec.hdrs[len(rec.hdrs)-1].Get("Via")
	rec.mu.Unlock()
	if got != "2 duohuo" {
		t.Errorf("Via to the backend = %q, want %q (the request came over HTTP/2)", got, "2 duohuo")
	}
}

func TestViaOnSwitchingProtocols(t *testing.T) {
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
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
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Via") != "1.1 duohuo" {
		t.Errorf("101 with Via %q (status %d), want Via %q", resp.Header.Get("Via"), resp.StatusCode, "1.1 duohuo")
	}
}

func TestNoUserAgentIsAddedWhenTheClientSentNone(t *testing.T) {
	rec := newRecorder(t)
	gw := gatewayTo(t, rec.addr(), "")
	statuses, _ := rawExchange(t, gw, "GET /ua HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if fmt.Sprint(statuses) != "[200]" {
		t.Fatalf("answers %v, want [200]", statuses)
	}
	statuses, _ = rawExchange(t, gw, "GET /ua HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nConnection: close\r\n\r\n")
	if fmt.Sprint(statuses) != "[200]" {
		t.Fatalf("answers %v, want [200]", statuses)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if ua, ok := rec.hdrs[0]["User-Agent"]; ok {
		t.Errorf("backend got User-Agent %q from a client that sent none", ua)
	}
	if ua := rec.hdrs[1].Get("User-Agent"); ua != "curl/8" {
		t.Errorf("backend got User-Agent %q, want the client's curl/8", ua)
	}
}

func TestEarlyHintsAreForwarded(t *testing.T) {
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	t.Cleanup(back.Close)
	gw := gatewayTo(t, back.Listener.Addr().String(), "")
	for _, h2 := range []bool{false, true} {
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		}}
		req, _ := http.NewRequest("GET", "http://"+gw+"/hints", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(!h2)
		tr.Protocols.SetUnencryptedHTTP2(h2)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		want := "[103 </style.css>; rel=preload]"
		if fmt.Sprint(hints) != want || string(b) != "final" || resp.Header.Get("Link") != "" {
			t.Errorf("HTTP/2 %v: interim %v, final %q with Link %q; want %s, final, no Link", h2, hints, b, resp.Header.Get("Link"), want)
		}
	}
}

func TestTraceAndMaxForwards(t *testing.T) {
	rec := newRecorder(t)
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes:
  - {name: traced, service: api, match: {path_prefix: /traced/}, allow_trace: true}
  - {name: all, service: api}
`, rec.addr())
	g := start(t, parse(t, cfg), "")
	t.Cleanup(func() { g.Shutdown(t.Context()) })
	gw := g.Addrs()[0]
	for _, tc := range []struct {
		name    string
		req     string
		status  int
		reached string // what the backend saw: "METHOD /path Max-Forwards"; "" nothing
		body    string // a part of the answer's body
	}{
		{"TRACE refused by default", "TRACE /x HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\n", 405, "", ""},
		{"TRACE forwarded where allowed, Max-Forwards decremented", "TRACE /traced/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 3\r\n", 200, "TRACE /traced/x 2", ""},
		{"TRACE answered at Max-Forwards 0, without credentials", "TRACE /traced/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\nCookie: s=1\r\nX-Mine: 1\r\n", 200, "", "X-Mine: 1"},
		{"OPTIONS answered at Max-Forwards 0", "OPTIONS /x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n", 200, "", ""},
		{"OPTIONS forwarded, Max-Forwards decremented", "OPTIONS /x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 1\r\n", 200, "OPTIONS /x 0", ""},
		{"OPTIONS without Max-Forwards forwarded", "OPTIONS /y HTTP/1.1\r\nHost: x\r\n", 200, "OPTIONS /y ", ""},
		{"malformed Max-Forwards", "OPTIONS /x HTTP/1.1\r\nHost: x\r\nMax-Forwards: -1\r\n", 400, "", ""},
		{"GET ignores Max-Forwards", "GET /z HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n", 200, "GET /z 0", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			c, err := net.Dial("tcp", gw)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, tc.req+"Connection: close\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.body != "" && !bytes.Contains(b, []byte(tc.body)) || bytes.Contains(b, []byte("s=1")) {
				t.Errorf("body %q, want it to hold %q and no cookie", b, tc.body)
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			rec.mu.Lock()
			var reached string
			if len(rec.seen) > before {
				reached = fmt.Sprintf("%s %s", strings.TrimSuffix(rec.seen[before], " "), rec.hdrs[before].Get("Max-Forwards"))
			}
			rec.mu.Unlock()
			if reached != tc.reached {
				t.Errorf("backend saw %q, want %q", reached, tc.reached)
			}
		})
	}
}
