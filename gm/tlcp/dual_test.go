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
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/gm/tlcp"
)

// tlsCert is a self-signed ECDSA P-256 certificate for 127.0.0.1.
func tlsCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}, pool
}

func TestDualListenerServesTLCPAndTLSOnOnePort(t *testing.T) {
	a, _ := testPKI(t)
	cert, pool := tlsCert(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tlcp.NewDualListener(inner, tlcp.DualConfig{
		TLCP:         &tlcp.Config{Certificates: a.server},
		TLS:          &tls.Config{Certificates: []tls.Certificate{cert}},
		HelloTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	// An echo server that says which protocol it spoke.
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
				c.SetDeadline(time.Now().Add(time.Minute))
				proto := "tls"
				if _, ok := c.(*tlcp.Conn); ok {
					proto = "tlcp"
				}
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write([]byte(proto))
				}
			}()
		}
	}()
	defer func() { ln.Close(); wg.Wait() }()

	// A client that connects and says nothing holds up nobody.
	quiet, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()

	ask := func(c net.Conn) string {
		t.Helper()
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil && len(b) == 0 {
			t.Fatal(err)
		}
		return string(b)
	}
	for range 2 {
		gm, err := tlcp.Dial("tcp", ln.Addr().String(), &tlcp.Config{RootCAs: a.pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLCP client: %v", err)
		}
		if got := ask(gm); got != "tlcp" {
			t.Errorf("TLCP client answered by %q", got)
		}
		intl, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13})
		if err != nil {
			t.Fatalf("TLS 1.3 client: %v", err)
		}
		if v := intl.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Errorf("TLS version %#x, want TLS 1.3", v)
		}
		if got := ask(intl); got != "tls" {
			t.Errorf("TLS client answered by %q", got)
		}
	}
}

func TestDualListenerDropsSilentClients(t *testing.T) {
	a, _ := testPKI(t)
	cert, _ := tlsCert(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tlcp.NewDualListener(inner, tlcp.DualConfig{
		TLCP: &tlcp.Config{Certificates: a.server}, TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		HelloTimeout: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("a silent client read %d, %v; want the connection closed", n, err)
	}
	if _, err := tlcp.NewDualListener(inner, tlcp.DualConfig{TLS: &tls.Config{}}); err == nil {
		t.Error("NewDualListener without a TLCP configuration succeeded")
	}
}
