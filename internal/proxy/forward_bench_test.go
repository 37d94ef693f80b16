package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkOutbound is the per-attempt cost of building the upstream request
// (header copy, X-Forwarded-*, Via, request id) for a typical client request.
func BenchmarkOutbound(b *testing.B) {
	f := &Forwarder{Via: "duohuo"}
	in := httptest.NewRequest("GET", "http://api.example.com/v1/items?id=7", nil)
	in.RemoteAddr = "192.0.2.10:40000"
	in.Header.Set("User-Agent", "wrk")
	in.Header.Set("Accept", "*/*")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out := f.Outbound(ctx, in, "http", "127.0.0.1:8080", "5f3a9c0e1d2b4a67", nil)
		if len(out.Header) != 7 {
			b.Fatalf("outbound has %d headers, want 7", len(out.Header))
		}
	}
}

// BenchmarkRequestID is the cost of a fresh request id.
func BenchmarkRequestID(b *testing.B) {
	in := httptest.NewRequest("GET", "http://x/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if RequestID(in) == "" {
			b.Fatal("empty request id")
		}
	}
}

// respondBefore is Respond as it was before upstream idle limits, early
// header flushes and gRPC streaming, kept as the Respond benchmarks'
// baseline (tunnels left out: the benchmarks send none).
func respondBefore(f *Forwarder, w http.ResponseWriter, in *http.Request, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	h := w.Header()
	copyEndToEnd(h, resp.Header)
	if f.Via != "" {
		h[headerVia] = f.appendVia(resp.Header[headerVia], in.ProtoMajor)
	}
	if len(resp.Trailer) > 0 {
		names := make([]string, 0, len(resp.Trailer))
		for k := range resp.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = names
	}
	w.WriteHeader(resp.StatusCode)
	bp, _ := f.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, bufSize)
		bp = &b
	}
	defer f.bufs.Put(bp)
	buf := *bp
	var rc *http.ResponseController
	if resp.ContentLength == -1 {
		rc = http.NewResponseController(w)
	}
	var n int64
	for {
		nr, rerr := resp.Body.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if rc != nil {
				if err := rc.Flush(); err != nil {
					return n, err
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, fmt.Errorf("%w: %v", ErrUpstreamBody, rerr)
		}
	}
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
	return n, nil
}

// benchWriter is a ResponseWriter that keeps nothing.
type benchWriter struct {
	h http.Header
	n int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}
func (w *benchWriter) Flush()                      {}

// benchBody is a response body that can be read again.
type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// BenchmarkRespond is the proxy's own cost of relaying the common response,
// 4 KiB with a Content-Length, to an in-memory writer: the previous Respond
// ("before") against today's without an idle limit and with one.
func BenchmarkRespond(b *testing.B) {
	payload := make([]byte, 4<<10)
	in := httptest.NewRequest("GET", "http://api.example.com/v1/items", nil)
	up := http.Header{"Content-Type": {"application/json"}, "Content-Length": {"4096"}, "Date": {"Mon, 02 Jan 2006 15:04:05 GMT"}}
	for _, bc := range []struct {
		name string
		idle time.Duration
		old  bool
	}{{"impl=before", 0, true}, {"impl=idle0", 0, false}, {"impl=idle30s", 30 * time.Second, false}} {
		b.Run(bc.name, func(b *testing.B) {
			f := &Forwarder{Via: "duohuo"}
			w := &benchWriter{h: make(http.Header)}
			body := new(benchBody)
			resp := &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Header: up, ContentLength: int64(len(payload)), Body: body}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				body.Reset(payload)
				var n int64
				var err error
				if bc.old {
					n, err = respondBefore(f, w, in, resp)
				} else {
					n, err = f.Respond(ctx, w, in, resp, bc.idle)
				}
				if err != nil || n != int64(len(payload)) {
					b.Fatalf("Respond = %d, %v; want %d bytes", n, err, len(payload))
				}
			}
		})
	}
}

// BenchmarkRespondLoopback is one whole proxied request over loopback
// HTTP/1.1 — client, gateway handler, upstream, all in this process — for a
// 4 KiB response with a Content-Length, through the previous Respond and
// today's. It shows what the early header flush costs on real sockets.
func BenchmarkRespondLoopback(b *testing.B) {
	payload := make([]byte, 4<<10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4096")
		w.Write(payload)
	}))
	defer up.Close()
	for _, bc := range []struct {
		name string
		idle time.Duration
		old  bool
	}{{"impl=before", 0, true}, {"impl=idle0", 0, false}, {"impl=idle30s", 30 * time.Second, false}} {
		b.Run(bc.name, func(b *testing.B) {
			tr := NewTransport(TransportOptions{})
			defer tr.CloseIdleConnections()
			f := &Forwarder{Via: "duohuo"}
			addr := up.Listener.Addr().String()
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				resp, err := tr.RoundTrip(f.Outbound(r.Context(), r, "http", addr, RequestID(r), nil))
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				if bc.old {
					respondBefore(f, w, r, resp)
				} else {
					f.Respond(r.Context(), w, r, resp, bc.idle)
				}
			}))
			defer gw.Close()
			client := gw.Client()
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(gw.URL)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || n != int64(len(payload)) {
					b.Fatalf("read %d bytes, %v; want %d", n, err, len(payload))
				}
			}
		})
	}
}
