package proxy_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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
