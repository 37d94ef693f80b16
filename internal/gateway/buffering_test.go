package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// slowUploads opens n connections to gw, each sending a request whose
// body stops halfway once the gateway has begun to read it (its 100
// Continue says so), then finishes them one at a time, each waiting for
// its answer. It returns the statuses.
func slowUploads(t *testing.T, gw string, n int) []int {
	t.Helper()
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", gw)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		readers[i] = bufio.NewReader(c)
		resp, err := http.ReadResponse(readers[i], nil)
		if err != nil || resp.StatusCode != http.StatusContinue {
			t.Fatalf("upload %d: %v %v, want 100 Continue", i, resp, err)
		}
		io.WriteString(c, "hello")
		conns[i] = c
	}
	var statuses []int
	for i, c := range conns {
		io.WriteString(c, "world")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(readers[i], nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	return statuses
}

// countingBackend is a real loopback server that counts the connections
// made to it.
func countingBackend(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	back := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	back.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	back.Start()
	t.Cleanup(back.Close)
	return back.Listener.Addr().String(), conns
}

func TestSlowUploadersHoldNoUpstreamConnection(t *testing.T) {
	const clients = 20
	for _, tc := range []struct {
		buffering string
		maxConns  int64 // upstream connections made, at most
		minConns  int64 // and at least
	}{
		// Each body is read whole first: the requests reach the
		// backend one after the other, on one kept-alive connection.
		{"", 2, 1},
		// Streaming: every upload in progress holds its own. The
		// transport may dial one spare connection on a busy machine (a
		// dial it started is kept when another connection frees first),
		// so the bound above allows two more.
		{"request_buffering: {max_bytes: 0}", clients + 2, clients},
	} {
		t.Run(fmt.Sprintf("%q", tc.buffering), func(t *testing.T) {
			addr, conns := countingBackend(t)
			route := "{name: all, service: api}"
			if tc.buffering != "" {
				route = "{name: all, service: api, " + tc.buffering + "}"
			}
			cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [%s]
`, addr, route)
			g := start(t, parse(t, cfg), "")
			t.Cleanup(func() { g.Shutdown(t.Context()) })
			statuses := slowUploads(t, g.Addrs()[0], clients)
			for i, st := range statuses {
				if st != 200 {
					t.Fatalf("upload %d: %d, want 200", i, st)
				}
			}
			if n := conns.Load(); n > tc.maxConns || n < tc.minConns {
				t.Errorf("%d upstream connections for %d slow uploads, want %d to %d", n, clients, tc.minConns, tc.maxConns)
			}
		})
	}
}

func TestBufferedBodiesAreRetried(t *testing.T) {
	// The first instance breaks off after reading the body; a retry must
	// send the whole body again, to the second.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	t.Cleanup(broken.Close)
	good, _ := countingBackend(t)
	// Larger than what an attempt keeps for a retry (proxy.ReplayLimit).
	body := strings.Repeat("b", 200<<10)
	for _, tc := range []struct {
		maxBytes string
		retried  bool
	}{
		{"1MiB", true},
		{"0B", false}, // streamed: sent once
	} {
		t.Run(tc.maxBytes, func(t *testing.T) {
			cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, balancer: round_robin, health: {outlier: {consecutive_gateway_failures: 0, consecutive_5xx: 0}}, discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]}]
routes: [{name: all, service: api, request_buffering: {max_bytes: %s}, retry: {attempts: 1, retry_on: [reset]}}]
`, broken.Listener.Addr(), good, tc.maxBytes)
			g := start(t, parse(t, cfg), "")
			t.Cleanup(func() { g.Shutdown(t.Context()) })
			var got []int
			for range 4 {
				// A chunked body, its length unknown until it ends,
				// and an idempotent method.
				statuses, _ := rawExchange(t, g.Addrs()[0], fmt.Sprintf("PUT /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body))
				got = append(got, statuses...)
			}
			// Round robin: two of the four go first to the broken
			// one, and are answered 502 unless retried.
			if all200 := fmt.Sprint(got) == "[200 200 200 200]"; all200 != tc.retried {
				t.Errorf("answers %v; want every one 200: %v", got, tc.retried)
			}
		})
	}
}
