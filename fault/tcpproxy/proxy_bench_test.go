package tcpproxy_test

import (
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// BenchmarkRoundTrip measures 64-byte echo round trips on loopback, direct
// to the server and through a proxy with no toxics, interleaved one for
// one so that both see the same machine load, and reports p50 and p99 of
// each in microseconds. The proxy's added latency is the difference.
func BenchmarkRoundTrip(b *testing.B) {
	srv := startServer(b, echo)
	p := listen(b, srv.Addr())
	direct, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer direct.Close()
	proxied, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer proxied.Close()
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	rt := func(c net.Conn) time.Duration {
		start := time.Now()
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var d, px []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		d = append(d, rt(direct))
		px = append(px, rt(proxied))
	}
	b.StopTimer()
	q := func(lat []time.Duration, f float64) float64 {
		slices.Sort(lat)
		return float64(lat[int(f*float64(len(lat)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(q(d, 0.50), "direct-p50-µs")
	b.ReportMetric(q(d, 0.99), "direct-p99-µs")
	b.ReportMetric(q(px, 0.50), "proxy-p50-µs")
	b.ReportMetric(q(px, 0.99), "proxy-p99-µs")
}
