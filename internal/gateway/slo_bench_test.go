package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// BenchmarkServeHTTPSLO is BenchmarkServeHTTP's request path with and
// without an slo section: the difference is what the SLIs cost a request
// (two counters and a histogram, fed once from the final answer).
func BenchmarkServeHTTPSLO(b *testing.B) {
	for _, section := range []string{"", "slo: {}\n"} {
		name := "slo=off"
		if section != "" {
			name = "slo=on"
		}
		b.Run(name, func(b *testing.B) {
			be := newRawBackend(b, 64)
			cfg, err := config.Parse("bench.yaml", []byte(fmt.Sprintf(benchConfig, be.addr())+section))
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
