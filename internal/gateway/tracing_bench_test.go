package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// BenchmarkServeHTTPTracing is BenchmarkServeHTTP's request path (64-byte
// body) without a tracing section, and with one exporting to a real OTLP
// receiver in the same process: at a 1% ratio with always_sample_errors
// (every request recorded, 99% dropped at the answer), at 1% without it
// (99% of requests not recorded at all), and at 100%. The difference to
// tracing=off is what tracing costs a request.
func BenchmarkServeHTTPTracing(b *testing.B) {
	rcv := newOTLPReceiver(b)
	for _, c := range []struct{ name, section string }{
		{"tracing=off", ""},
		{"tracing=1%", "sample_ratio: 0.01"},
		{"tracing=1%,errors=off", "sample_ratio: 0.01, always_sample_errors: false"},
		{"tracing=100%", "sample_ratio: 1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			be := newRawBackend(b, 64)
			text := fmt.Sprintf(benchConfig, be.addr())
			if c.section != "" {
				text += fmt.Sprintf("tracing: {endpoint: %q, insecure: true, %s}\n", rcv.addr, c.section)
			}
			cfg, err := config.Parse("bench.yaml", []byte(text))
			if err != nil {
				b.Fatal(err)
			}
			g, gerr := gateway.New(gateway.Options{Config: cfg, Logger: discard()})
			if gerr != nil {
				b.Fatal(gerr)
			}
			b.Cleanup(func() { g.Shutdown(context.Background()) })
			deadline := time.Now().Add(5 * time.Second)
			for !known(g.Stats("api")) {
				if time.Now().After(deadline) {
					b.Fatal("the static instance never reached the balancer")
				}
				time.Sleep(time.Millisecond)
			}
			serveParallel(b, g, 64)
		})
	}
}
