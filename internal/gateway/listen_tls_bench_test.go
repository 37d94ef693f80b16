package gateway_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/duohuo/duohuo/gm/tlcp"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

// BenchmarkListenerTLCPvsTLS: requests per second through one gateway port
// that serves both TLCP and TLS, from keep-alive HTTP/1.1 clients over
// each, side by side in one run, for a 5-byte and a 64 KiB answer: the cost of TLCP's records against TLS
// 1.3's on the request path (the handshakes are measured apart, in
// gm/tlcp's BenchmarkHandshake). The upstream is cleartext on loopback.
// The two alternate in rounds (round=1/TLCP, round=1/TLS, round=2/…), so
// that a machine whose load changes affects both alike: compare their
// req/s round by round; the ratio is the figure, not either number alone.
//
//	go test -run '^$' -bench ListenerTLCPvsTLS -benchtime 2s ./internal/gateway
func BenchmarkListenerTLCPvsTLS(b *testing.B) {
	dir := b.TempDir()
	tlsYAML, intlPool, gmPool := listenerCerts(b, dir)
	big := make([]byte, 64<<10)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/64k" {
			w.Write(big)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer back.Close()
	cfg, err := config.Parse("bench.yaml", fmt.Appendf(nil, `
listeners: [{name: public, listen: "127.0.0.1:0", tls: %s}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, tlsYAML, back.Listener.Addr()))
	if err != nil {
		b.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, BaseDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Start(); err != nil {
		b.Fatal(err)
	}
	defer g.Shutdown(b.Context())
	base := "https://" + g.Addrs()[0]

	type contestant struct {
		name string
		tr   *http.Transport
	}
	var contestants []contestant
	for _, c := range []struct {
		name string
		tr   *http.Transport
	}{
		{"TLCP-ECC_SM4_GCM_SM3", &http.Transport{
			DialTLSContext:      (&tlcp.Dialer{Config: &tlcp.Config{RootCAs: gmPool, ServerName: "127.0.0.1", CipherSuites: []uint16{tlcp.ECC_SM4_GCM_SM3}}}).DialContext,
			MaxIdleConnsPerHost: 64,
		}},
		{"TLS1.3-AES-128-GCM", &http.Transport{
			// HTTP/1.1 as over TLCP, so that only the records differ.
			TLSClientConfig:     &tls.Config{RootCAs: intlPool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"}},
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
			MaxIdleConnsPerHost: 64,
		}},
	} {
		contestants = append(contestants, contestant{c.name, c.tr})
	}
	for _, size := range []struct{ name, path string }{{"5B", "/x"}, {"64KiB", "/64k"}} {
		url := base + size.path
		for round := 1; round <= 5; round++ {
			for _, c := range contestants {
				b.Run(fmt.Sprintf("body=%s/round=%d/%s", size.name, round, c.name), func(b *testing.B) {
					client := &http.Client{Transport: c.tr, Timeout: 10 * time.Second}
					defer c.tr.CloseIdleConnections()
					b.SetParallelism(8) // 8 × GOMAXPROCS connections
					b.ReportAllocs()
					start := time.Now()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							resp, err := client.Get(url)
							if err != nil {
								b.Error(err)
								return
							}
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							if resp.StatusCode != 200 {
								b.Errorf("status %d", resp.StatusCode)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
				})
			}
		}
	}
}
