package tcpproxy_test

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures a 64-byte echo round trip on loopback, direct
// to the server and through a proxy with no toxics, side by side, and
// reports p50 and p99 in microseconds. The proxy's added latency is the
// difference between the two.
func BenchmarkRoundTrip(b *testing.B) {
	srv := startServer(b, echo)
	p := listen(b, srv.Addr())
	for _, bc := range []struct{ name, addr string }{
		{"direct", srv.Addr()},
		{"proxy", p.Addr().String()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := net.Dial("tcp", bc.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg := make([]byte, 64)
			buf := make([]byte, 64)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			q := func(f float64) float64 {
				return float64(lat[int(f*float64(len(lat)-1))]) / float64(time.Microsecond)
			}
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
		})
	}
}
