package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/balancer"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// rawBackend is a real loopback HTTP/1.1 server that answers every request
// with the same fixed response and allocates nothing per request, so that
// allocs/op in the benchmarks below are the proxy's, not the backend's. It
// understands only what the benchmarks send: requests without a body.
type rawBackend struct {
	ln   net.Listener
	resp []byte
	wg   sync.WaitGroup
	mu   sync.Mutex // guards conns
	conn map[net.Conn]struct{}
}

func newRawBackend(tb testing.TB, bodySize int) *rawBackend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), bodySize)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(bodySize) + "\r\n\r\n"
	b := &rawBackend{ln: ln, resp: append([]byte(head), body...), conn: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.accept()
	tb.Cleanup(b.close)
	return b
}

func (b *rawBackend) addr() string { return b.ln.Addr().String() }

func (b *rawBackend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conn[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Add(1)
		go b.serve(c)
	}
}

// serve answers each request head (up to the blank line) on c.
func (b *rawBackend) serve(c net.Conn) {
	defer b.wg.Done()
	defer c.Close()
	br := bufio.NewReaderSize(c, 8<<10)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 { // "\r\n": end of the head
				break
			}
		}
		if _, err := c.Write(b.resp); err != nil {
			return
		}
	}
}

func (b *rawBackend) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conn {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// discardWriter is a minimal http.ResponseWriter that drops the body: it
// stands in for the server's connection so that the benchmark measures the
// handler, not the client. The header map is reused across requests.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// benchConfig has the features `duohuo serve` runs with by default plus an
// active probe: health checks, outlier detection, metrics with instance
// labels, one retry under a budget, request IDs, X-Forwarded-For and Via.
const benchConfig = `
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s", cloud: c1, region: r1, zone: z1}]}}]
    health:
      active: {type: http, path: /healthz, interval: 2s}
routes: [{name: all, service: api}]
`

func benchGateway(b *testing.B, backend string) *gateway.Gateway {
	b.Helper()
	cfg, perr := config.Parse("bench.yaml", []byte(fmt.Sprintf(benchConfig, backend)))
	if perr != nil {
		b.Fatal(perr)
	}
	g, err := gateway.New(gateway.Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Shutdown(context.Background()) })
	// Discovery reports asynchronously: wait until the instance is known.
	deadline := time.Now().Add(5 * time.Second)
	for !known(g.Stats("api")) {
		if time.Now().After(deadline) {
			b.Fatal("the static instance never reached the balancer")
		}
		time.Sleep(time.Millisecond)
	}
	return g
}

func known(st balancer.State) bool {
	for _, t := range st.Tiers {
		if t.Healthy > 0 {
			return true
		}
	}
	return false
}

func benchRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://api.example.com/v1/items?id=7", nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.RequestURI = "/v1/items?id=7"
	r.Header.Set("User-Agent", "wrk")
	r.Header.Set("Accept", "*/*")
	return r
}

// serveParallel drives h from b.RunParallel goroutines, each with its own
// request and writer, and checks every answer.
func serveParallel(b *testing.B, h http.Handler, bodySize int) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRequest()
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			w.reset()
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK || w.n != bodySize {
				b.Errorf("answer %d with %d bytes, want 200 with %d", w.status, w.n, bodySize)
				return
			}
		}
	})
}

// BenchmarkServeHTTP is the gateway's whole request path (route, pick,
// attempt over a keep-alive loopback connection, health and metrics,
// response copy) with every default feature on.
func BenchmarkServeHTTP(b *testing.B) {
	for _, size := range []int{64, 4 << 10} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			be := newRawBackend(b, size)
			serveParallel(b, benchGateway(b, be.addr()), size)
		})
	}
}

// BenchmarkReverseProxyBaseline is the plain Go way in the same harness:
// httputil.ReverseProxy with its defaults and a Transport whose keep-alive
// pool is large enough (MaxIdleConnsPerHost 256), as in bench/goproxy.
func BenchmarkReverseProxyBaseline(b *testing.B) {
	for _, size := range []int{64, 4 << 10} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			be := newRawBackend(b, size)
			target := &url.URL{Scheme: "http", Host: be.addr()}
			rp := httputil.NewSingleHostReverseProxy(target)
			tr := &http.Transport{MaxIdleConnsPerHost: 256}
			b.Cleanup(tr.CloseIdleConnections)
			rp.Transport = tr
			rp.ErrorLog = nil
			serveParallel(b, rp, size)
		})
	}
}
