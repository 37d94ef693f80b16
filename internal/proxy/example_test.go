package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/duohuo/duohuo/internal/proxy"
)

// A gateway passes a gRPC call's remaining time on to the upstream.
func ExampleParseGRPCTimeout() {
	d, ok := proxy.ParseGRPCTimeout("1500m") // what the client sent
	fmt.Println(d, ok)
	spent := 200 * time.Millisecond // balancing, a failed first attempt
	fmt.Println(proxy.FormatGRPCTimeout(d - spent))
	_, ok = proxy.ParseGRPCTimeout("1.5S")
	fmt.Println(ok)
	// Output:
	// 1.5s true
	// 1300000u
	// false
}

func ExampleWriteGRPCError() {
	w := httptest.NewRecorder()
	proxy.WriteGRPCError(w, proxy.GRPCUnavailable, "no healthy upstream: 100% down")
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Grpc-Status"), w.Header().Get("Grpc-Message"), w.Body.Len())
	// Output:
	// 200 application/grpc 14 no healthy upstream: 100%25 down 0
}

func ExampleClientBodyStatus() {
	fmt.Println(proxy.ClientBodyStatus(&http.MaxBytesError{Limit: 1 << 20}))
	fmt.Println(proxy.ClientBodyStatus(fmt.Errorf("%w: nothing received for 30s", proxy.ErrClientIdle)))
	fmt.Println(proxy.ClientBodyStatus(errors.New("invalid byte in chunk length")))
	fmt.Println(proxy.ClientBodyStatus(nil))
	// Output:
	// 413
	// 408
	// 400
	// 0
}

// A Forwarder holds no transport: the caller sends each attempt with the
// transport of the instance's service, so one Forwarder serves them all.
func ExampleForwarder() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s via %s", r.Method, r.URL.Path, r.Header.Get("Via"))
	}))
	defer up.Close()
	addr := strings.TrimPrefix(up.URL, "http://")
	tr := proxy.NewTransport(proxy.TransportOptions{}) // one per service
	defer tr.CloseIdleConnections()
	fwd := &proxy.Forwarder{Via: "duohuo"}

	in := httptest.NewRequest("GET", "http://api.example.com/orders", nil)
	out := fwd.Outbound(context.Background(), in, "http", addr, proxy.RequestID(in), nil)
	resp, err := tr.RoundTrip(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := httptest.NewRecorder()
	if _, err := fwd.Respond(context.Background(), w, in, resp, 0); err != nil {
		fmt.Println(err)
	}
	body, _ := io.ReadAll(w.Result().Body)
	fmt.Println(w.Code, string(body))
	// Output:
	// 200 GET /orders via 1.1 duohuo
}
