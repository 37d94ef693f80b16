package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// traceparentRE is a W3C traceparent as the gateway writes one: version 00,
// the flags of its parent (level 2 adds the random bit, 02).
var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// FuzzTraceHeaders: whatever traceparent, tracestate and baggage a client
// sends, a traced gateway answers, and the instance gets either the
// client's traceparent untouched (the request was not recorded) or a
// well-formed one of the gateway's, in the client's trace when the
// client's was valid.
func FuzzTraceHeaders(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=x", "gray.lane=canary")
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=1,b=2", "user=7;p=1")
	f.Add("00-00000000000000000000000000000000-0000000000000000-01", "=", ",")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra", "k@v=x", "%%%")
	var got atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Traceparent"))
	}))
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	dead := ln.Addr().String() // a receiver that is away: nothing to wait for
	ln.Close()
	cfg, perr := config.Parse("fuzz.yaml", []byte(fmt.Sprintf(`
tracing: {endpoint: "%s", insecure: true, sample_ratio: 0.5, queue_size: 16, batch_size: 16, timeout: 100ms}
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, dead, up.Listener.Addr().String())))
	if perr != nil {
		f.Fatal(perr)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	f.Fuzz(func(t *testing.T, traceparent, tracestate, baggage string) {
		for _, v := range []string{traceparent, tracestate, baggage} {
			if !httpguts.ValidHeaderFieldValue(v) {
				return // net/http's server refuses the request before the gateway sees it
			}
		}
		r := httptest.NewRequest("GET", "http://api.example/", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header = http.Header{"Traceparent": {traceparent}, "Tracestate": {tracestate}, "Baggage": {baggage}}
		got.Store("")
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("traceparent %q: answer %d %q", traceparent, w.Code, w.Body.String())
		}
		tp, _ := got.Load().(string)
		if tp == traceparent {
			return
		}
		if !traceparentRE.MatchString(tp) {
			t.Fatalf("client traceparent %q: the instance got %q", traceparent, tp)
		}
		// Valid for every SDK: level 1's flags, neither ID all zeros (W3C
		// Trace Context, 3.2.2.3, 3.2.2.4). Other flags in version 00 the
		// OpenTelemetry SDK refuses: a new trace starts.
		valid := traceparentRE.MatchString(traceparent) && (strings.HasSuffix(traceparent, "-00") || strings.HasSuffix(traceparent, "-01")) &&
			traceparent[3:35] != strings.Repeat("0", 32) && traceparent[36:52] != strings.Repeat("0", 16)
		if valid && traceparent[3:35] != tp[3:35] {
			t.Fatalf("client traceparent %q: the instance got %q, in another trace", traceparent, tp)
		}
	})
}
