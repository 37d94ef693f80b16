package tlcp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/gm/tlcp"
)

// The benchmarks run TLCP beside Go's crypto/tls in the same run, so that
// the figures read as ratios on the machine at hand (docs/benchmarks.md):
//
//	go test -run '^$' -bench . -benchtime 2s ./gm/tlcp

// ecdsaPKI is a P-256 CA with a server and a client certificate.
func ecdsaPKI(b *testing.B) (server, client tls.Certificate, pool *x509.CertPool) {
	b.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	leaf := func(n int64, eku x509.ExtKeyUsage) tls.Certificate {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			b.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
	}
	return leaf(2, x509.ExtKeyUsageServerAuth), leaf(3, x509.ExtKeyUsageClientAuth), pool
}

type handshaker interface {
	net.Conn
	Handshake() error
}

// benchServer accepts on a loopback listener and runs each connection's
// handshake, then either closes it or copies it to io.Discard.
func benchServer(b *testing.B, ln net.Listener, drain bool) func() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if err := c.(handshaker).Handshake(); err != nil {
					return
				}
				if drain {
					io.Copy(io.Discard, c)
				} else {
					c.Read(make([]byte, 1)) // until the client closes
				}
			}()
		}
	}()
	return func() { ln.Close(); wg.Wait() }
}

type protocol struct {
	name   string
	listen func(net.Listener) net.Listener
	client func(net.Conn) handshaker
}

func protocols(b *testing.B) []protocol {
	a, _ := testPKI(b)
	srv, cli, pool := ecdsaPKI(b)
	tlcpCase := func(name string, suite uint16, mutual bool) protocol {
		scfg := &tlcp.Config{Certificates: a.server, CipherSuites: []uint16{suite}, SessionCacheSize: -1}
		ccfg := &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", CipherSuites: []uint16{suite}}
		if mutual {
			scfg.ClientAuth, scfg.ClientCAs = tlcp.RequireAndVerifyClientCert, a.pool
			ccfg.Certificates = a.client
		}
		return protocol{name,
			func(ln net.Listener) net.Listener { return tlcp.NewListener(ln, scfg) },
			func(c net.Conn) handshaker { return tlcp.Client(c, ccfg) }}
	}
	tlsCase := func(name string, version uint16, mutual bool) protocol {
		scfg := &tls.Config{Certificates: []tls.Certificate{srv}, MinVersion: version, MaxVersion: version,
			CurvePreferences: []tls.CurveID{tls.CurveP256}, SessionTicketsDisabled: true,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}
		ccfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: version, MaxVersion: version,
			CurvePreferences: []tls.CurveID{tls.CurveP256}, CipherSuites: scfg.CipherSuites}
		if mutual {
			scfg.ClientAuth, scfg.ClientCAs = tls.RequireAndVerifyClientCert, pool
			ccfg.Certificates = []tls.Certificate{cli}
		}
		return protocol{name,
			func(ln net.Listener) net.Listener { return tls.NewListener(ln, scfg) },
			func(c net.Conn) handshaker { return tls.Client(c, ccfg) }}
	}
	return []protocol{
		tlcpCase("TLCP-ECC_SM4_GCM_SM3", tlcp.ECC_SM4_GCM_SM3, false),
		tlcpCase("TLCP-ECDHE_SM4_GCM_SM3-mutual", tlcp.ECDHE_SM4_GCM_SM3, true),
		tlsCase("TLS1.2-ECDHE-P256-ECDSA-AES128GCM", tls.VersionTLS12, false),
		tlsCase("TLS1.3-P256-ECDSA-AES128GCM", tls.VersionTLS13, false),
		tlsCase("TLS1.3-P256-ECDSA-AES128GCM-mutual", tls.VersionTLS13, true),
	}
}

// BenchmarkHandshake: one full handshake per iteration (no resumption)
// over a new loopback TCP connection, client and server in this process;
// it reports handshakes/s and the p50/p99 of the client's connect plus
// handshake.
func BenchmarkHandshake(b *testing.B) {
	for _, p := range protocols(b) {
		b.Run(p.name, func(b *testing.B) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stop := benchServer(b, p.listen(inner), false)
			defer stop()
			lat := make([]time.Duration, 0, 4096)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				raw, err := net.Dial("tcp", inner.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				c := p.client(raw)
				if err := c.Handshake(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				c.Close()
			}
			elapsed := time.Since(start)
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "handshakes/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkBulk: application data through the listener, 16 KiB writes
// (one full record each) read and discarded by the server.
func BenchmarkBulk(b *testing.B) {
	for _, p := range protocols(b) {
		if p.name != "TLCP-ECC_SM4_GCM_SM3" && p.name != "TLS1.3-P256-ECDSA-AES128GCM" {
			continue
		}
		name := map[string]string{"TLCP-ECC_SM4_GCM_SM3": "TLCP-SM4-GCM", "TLS1.3-P256-ECDSA-AES128GCM": "TLS1.3-AES-128-GCM"}[p.name]
		b.Run(name, func(b *testing.B) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			stop := benchServer(b, p.listen(inner), true)
			defer stop()
			raw, err := net.Dial("tcp", inner.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c := p.client(raw)
			if err := c.Handshake(); err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 16<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
