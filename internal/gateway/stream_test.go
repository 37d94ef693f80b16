package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/gateway"
)

// Streams outlive the route timeout: it bounds the wait for the response
// head, counted from when the request was sent whole, not the transfer.
// Each case runs behind a 2 s route timeout; they run in parallel, so the
// test takes about as long as the longest (the 60 s event stream).
//
// Under -short (the emulated test runs, 10–20× slower) the streams are
// shorter — 64 MiB, a 10 s event stream, a 5 s poll — still well past the
// route timeout; the full sizes run natively.
func TestStreamsOutliveTheRouteTimeout(t *testing.T) {
	const routeTimeout = "2s"
	mux := http.NewServeMux()
	// 1 GiB at a limited rate: 64 KiB every 0.5 ms at most, ~128 MB/s.
	download, events, poll := 1<<30, 60, 30*time.Second
	if testing.Short() {
		download, events, poll = 64<<20, 10, 5*time.Second
	}
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(download))
		buf := make([]byte, 64<<10)
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for sent := 0; sent < download; sent += len(buf) {
			if _, err := w.Write(buf); err != nil {
				return
			}
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := range events {
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/poll", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush() // the head at once, the news after 30 s
		select {
		case <-time.After(poll):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "news")
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent mid-body until the gateway gives up
	})
	up := httptest.NewServer(mux)
	defer up.Close()
	g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes:
  - name: stall
    match: {path_prefix: /stall}
    service: api
    stream_idle_timeout: 1s
  - name: all
    service: api
    timeout: %s
`, up.Listener.Addr().String(), routeTimeout)), "")
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()

	t.Run("group", func(t *testing.T) {
		t.Run("a large download at a limited rate completes", func(t *testing.T) {
			t.Parallel()
			resp, err := c.Get(base + "/download")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != int64(download) {
				t.Errorf("downloaded %d bytes, %v; want %d", n, err, download)
			}
		})
		t.Run("a long event stream completes", func(t *testing.T) {
			t.Parallel()
			resp, err := c.Get(base + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got := 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					got++
				}
			}
			if got != events || sc.Err() != nil {
				t.Errorf("got %d events, %v; want all %d", got, sc.Err(), events)
			}
		})
		t.Run("a long poll completes", func(t *testing.T) {
			t.Parallel()
			resp, err := c.Get(base + "/poll")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != "news" || err != nil {
				t.Errorf("long poll = %d %q, %v; want 200 news", resp.StatusCode, b, err)
			}
		})
		t.Run("a slow upload completes", func(t *testing.T) {
			t.Parallel()
			pr, pw := io.Pipe()
			go func() {
				for range 10 { // 10 × 64 KiB over 5 s
					time.Sleep(500 * time.Millisecond)
					if _, err := pw.Write(make([]byte, 64<<10)); err != nil {
						return
					}
				}
				pw.Close()
			}()
			resp, err := c.Post(base+"/upload", "application/octet-stream", pr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != fmt.Sprint(10*64<<10) {
				t.Errorf("slow upload = %d %q, want 200 and %d bytes received", resp.StatusCode, b, 10*64<<10)
			}
		})
		t.Run("a silent upstream mid-body is cut by the idle timeout", func(t *testing.T) {
			t.Parallel()
			resp, err := c.Get(base + "/stall")
			if err != nil {
				return // broken before the head: a known length sends its head with the first full buffer
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err == nil {
				t.Errorf("stalled body read %d bytes and ended cleanly; want a broken response", n)
			}
		})
	})
}

// A client that sends malformed bodies at 300 requests a second opens no
// breaker and ejects nothing, while real traffic keeps succeeding.
func TestMalformedBodiesBlameTheClient(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	g := oneInstance(t, up.Listener.Addr().String())
	defer g.Shutdown(context.Background())
	addr := g.Addrs()[0]
	bad := []string{
		"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
	}
	stop := make(chan struct{})
	badDone := make(chan int)
	var sent atomic.Int64
	go func() {
		// One goroutine per malformed request, so that the slow ones (a
		// body that stops midway waits for the client) do not hold up
		// the rate.
		var wg sync.WaitGroup
		defer func() { wg.Wait(); badDone <- int(sent.Load()) }()
		tick := time.NewTicker(time.Second / 300)
		defer tick.Stop()
		for i := 0; i < 900; i++ { // 3 s at 300/s
			select {
			case <-tick.C:
			case <-stop:
				return
			}
			wg.Go(func() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer c.Close()
				io.WriteString(c, bad[i%len(bad)])
				if i%len(bad) == 2 { // a body cut short: the client goes away
					c.(*net.TCPConn).CloseWrite()
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, c)
				sent.Add(1)
			})
		}
	}()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	good, failed := 0, 0
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	for range 300 { // real traffic at about 100/s for the bad clients' 3 s
		<-pace.C
		resp, err := c.Post("http://"+addr+"/x", "text/plain", strings.NewReader("hello"))
		if err != nil {
			failed++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && string(b) == "ok" {
			good++
		} else {
			failed++
		}
	}
	close(stop)
	nbad := <-badDone
	if failed != 0 || good == 0 {
		t.Errorf("real traffic while %d malformed requests came in: %d ok, %d failed; want all ok", nbad, good, failed)
	}
	if nbad < 300 {
		t.Errorf("only %d malformed requests were sent; the test needs at least 300", nbad)
	}
	t.Logf("%d malformed requests, %d good ones, all answered", nbad, good)
	for _, s := range g.Services() {
		for _, in := range s.Instances {
			if in.Status != "healthy" {
				t.Errorf("instance %s is %s after malformed client bodies, want healthy (%s)", in.ID, in.Status, in.Reason)
			}
		}
	}
}

// An upstream's own error answer reaches the client as it came: status,
// body, Retry-After and content type, when there is nothing to retry on.
func TestUpstreamErrorPassesThrough(t *testing.T) {
	var n atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 5 && r.URL.Path == "/flaky" {
			io.WriteString(w, "fine")
			return
		}
		switch r.URL.Path {
		case "/502":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, `{"error":"db down"}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "boom")
		}
	}))
	defer up.Close()
	g := oneInstance(t, up.Listener.Addr().String())
	defer g.Shutdown(context.Background())
	base := "http://" + g.Addrs()[0]
	resp, err := http.Get(base + "/502")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || string(b) != `{"error":"db down"}` || resp.Header.Get("Retry-After") != "7" ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Duohuo-Error") != "" {
		t.Errorf("upstream 502 reached the client as %d %q %v, want the upstream's own answer", resp.StatusCode, b, resp.Header)
	}
	// A lone instance that answered 500 five times still gets traffic.
	for i := 0; i < 4; i++ {
		resp, err := http.Get(base + "/flaky")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var last int
	for i := 0; i < 20; i++ {
		resp, err := http.Get(base + "/flaky")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if last = resp.StatusCode; last == 200 && string(b) == "fine" {
			return
		}
		if last == 503 && resp.Header.Get("X-Duohuo-Error") != "" {
			t.Fatalf("the lone instance was taken out: %d %s", last, resp.Header.Get("X-Duohuo-Error"))
		}
	}
	t.Errorf("a one-instance service after five 500s answers %d, want 200 once the instance recovers", last)
}

// oneInstance starts a gateway with default settings in front of one
// instance at addr, on a route that takes everything.
func oneInstance(t *testing.T, addr string) *gateway.Gateway {
	t.Helper()
	return start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
routes: [{name: all, service: api}]
`, addr)), "")
}
