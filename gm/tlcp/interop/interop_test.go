package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/tjfoc/gmsm/gmtls"
	tjx509 "github.com/tjfoc/gmsm/x509"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/gm/gmcert"
	"github.com/duohuo/duohuo/gm/tlcp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pki is one CA with a server and a client double certificate, in both
// stacks' types.
type pki struct {
	ours           *smx509.CertPool
	theirs         *tjx509.CertPool
	server, client *gmcert.Pair
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := gmcert.NewCA("interop CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{ours: smx509.NewCertPool(), theirs: tjx509.NewCertPool()}
	p.ours.AddCert(ca.Cert)
	if !p.theirs.AppendCertsFromPEM(ca.CertPEM) {
		t.Fatal("tjfoc cannot read the CA certificate")
	}
	if p.server, err = ca.Issue(gmcert.Request{Hosts: []string{"localhost", "127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if p.client, err = ca.Issue(gmcert.Request{Hosts: []string{"client"}, Client: true}); err != nil {
		t.Fatal(err)
	}
	return p
}

func ours(t *testing.T, kps ...gmcert.KeyPair) []tlcp.Certificate {
	t.Helper()
	var out []tlcp.Certificate
	for _, kp := range kps {
		c, err := tlcp.X509KeyPair(kp.CertPEM, kp.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func theirs(t *testing.T, kps ...gmcert.KeyPair) []gmtls.Certificate {
	t.Helper()
	var out []gmtls.Certificate
	for _, kp := range kps {
		c, err := gmtls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
		if err != nil {
			t.Fatalf("tjfoc cannot read our key pair: %v", err)
		}
		out = append(out, c)
	}
	return out
}

// serveOnce accepts one connection on a loopback listener, runs handshake
// on it (recovering a panic of the peer stack into an error), then echoes
// one line; its result arrives on the returned channel.
func serveOnce(t *testing.T, wrap func(net.Conn) net.Conn) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		raw, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(time.Minute))
		errc <- func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("server panicked: %v", r)
				}
			}()
			c := wrap(raw)
			defer c.Close()
			buf := make([]byte, 5)
			if _, err := io.ReadFull(c, buf); err != nil {
				return err
			}
			_, err = c.Write(buf)
			return err
		}()
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), errc
}

func roundTrip(c io.ReadWriter) error {
	if _, err := c.Write([]byte("hello")); err != nil {
		return err
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, []byte("hello")) {
		return fmt.Errorf("echo %q, want hello", got)
	}
	return nil
}

func TestOurClientTheirServer(t *testing.T) {
	p := newPKI(t)
	for _, mutual := range []bool{false, true} {
		t.Run(fmt.Sprintf("ECC_SM4_CBC_SM3 client certificate %v", mutual), func(t *testing.T) {
			scfg := &gmtls.Config{GMSupport: &gmtls.GMSupport{}, Certificates: theirs(t, p.server.Sign, p.server.Enc),
				CipherSuites: []uint16{gmtls.GMTLS_SM2_WITH_SM4_SM3}}
			ccfg := &tlcp.Config{RootCAs: p.ours, ServerName: "localhost"}
			if mutual {
				scfg.ClientAuth, scfg.ClientCAs = gmtls.RequireAndVerifyClientCert, p.theirs
				ccfg.Certificates = ours(t, p.client.Sign)
			}
			addr, errc := serveOnce(t, func(c net.Conn) net.Conn { return gmtls.Server(c, scfg) })
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := (&tlcp.Dialer{Config: ccfg}).DialContext(ctx, "tcp", addr)
			if err != nil {
				t.Fatalf("our client: %v (their server: %v)", err, <-errc)
			}
			defer c.Close()
			if err := roundTrip(c); err != nil {
				t.Fatal(err)
			}
			if st := c.(*tlcp.Conn).ConnectionState(); st.CipherSuite != tlcp.ECC_SM4_CBC_SM3 || len(st.PeerCertificates) != 2 {
				t.Errorf("suite %s with %d peer certificates, want ECC_SM4_CBC_SM3 and 2", tlcp.CipherSuiteName(st.CipherSuite), len(st.PeerCertificates))
			}
			if err := <-errc; err != nil {
				t.Errorf("their server: %v", err)
			}
		})
	}
}

func TestTheirClientOurServer(t *testing.T) {
	p := newPKI(t)
	for _, mutual := range []bool{false, true} {
		t.Run(fmt.Sprintf("ECC_SM4_CBC_SM3 client certificate %v", mutual), func(t *testing.T) {
			scfg := &tlcp.Config{Certificates: ours(t, p.server.Sign, p.server.Enc)}
			ccfg := &gmtls.Config{GMSupport: &gmtls.GMSupport{}, RootCAs: p.theirs, ServerName: "localhost",
				CipherSuites: []uint16{gmtls.GMTLS_SM2_WITH_SM4_SM3}}
			if mutual {
				scfg.ClientAuth, scfg.ClientCAs = tlcp.RequireAndVerifyClientCert, p.ours
				ccfg.Certificates = theirs(t, p.client.Sign)
			}
			states := make(chan tlcp.ConnectionState, 1)
			addr, errc := serveOnce(t, func(c net.Conn) net.Conn {
				tc := tlcp.Server(c, scfg)
				if tc.Handshake() == nil {
					states <- tc.ConnectionState()
				}
				return tc
			})
			c, err := gmtls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr, ccfg)
			if err != nil {
				t.Fatalf("their client: %v (our server: %v)", err, <-errc)
			}
			defer c.Close()
			// tjfoc splits a CBC write 1/n-1: roundTrip reads whole lines.
			if err := roundTrip(c); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("our server: %v", err)
			}
			st := <-states
			if st.CipherSuite != tlcp.ECC_SM4_CBC_SM3 {
				t.Errorf("suite = %s", tlcp.CipherSuiteName(st.CipherSuite))
			}
			if mutual && (len(st.PeerCertificates) != 1 || len(st.VerifiedChains) == 0) {
				t.Errorf("our server sees %d verified client certificates, want 1", len(st.PeerCertificates))
			}
		})
	}
}

// TestTheirECDHEFailsCleanly pins what tjfoc cannot do: its 0xe011 is not
// the SM2 key exchange. Our side must refuse with an error, not hang or
// crash, whichever side they are.
func TestTheirECDHEFailsCleanly(t *testing.T) {
	p := newPKI(t)
	t.Run("their server", func(t *testing.T) {
		scfg := &gmtls.Config{GMSupport: &gmtls.GMSupport{}, Certificates: theirs(t, p.server.Sign, p.server.Enc),
			ClientAuth: gmtls.RequireAnyClientCert}
		addr, errc := serveOnce(t, func(c net.Conn) net.Conn { return gmtls.Server(c, scfg) })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := (&tlcp.Dialer{Config: &tlcp.Config{RootCAs: p.ours, ServerName: "localhost",
			Certificates: ours(t, p.client.Sign, p.client.Enc), CipherSuites: []uint16{tlcp.ECDHE_SM4_CBC_SM3}}}).DialContext(ctx, "tcp", addr)
		serr := <-errc
		if err == nil {
			t.Fatal("ECDHE with tjfoc's server succeeded; update docs/gm.md")
		}
		t.Logf("our client: %v; their server: %v", err, serr)
	})
	t.Run("their client", func(t *testing.T) {
		scfg := &tlcp.Config{Certificates: ours(t, p.server.Sign, p.server.Enc),
			ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: p.ours}
		addr, errc := serveOnce(t, func(c net.Conn) net.Conn { return tlcp.Server(c, scfg) })
		ccfg := &gmtls.Config{GMSupport: &gmtls.GMSupport{}, RootCAs: p.theirs, ServerName: "localhost",
			Certificates: theirs(t, p.client.Sign), CipherSuites: []uint16{gmtls.GMTLS_ECDHE_SM2_WITH_SM4_SM3}}
		cerr := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("their client panicked: %v", r)
				}
			}()
			c, err := gmtls.DialWithDialer(&net.Dialer{Timeout: time.Minute}, "tcp", addr, ccfg)
			if err == nil {
				defer c.Close()
				err = roundTrip(c)
			}
			return err
		}()
		serr := <-errc
		if cerr == nil || serr == nil {
			t.Fatalf("ECDHE with tjfoc's client: client %v, our server %v; want both to fail (update docs/gm.md if it works)", cerr, serr)
		}
		var ne net.Error
		if errors.As(serr, &ne) && ne.Timeout() {
			t.Errorf("our server hung until its deadline: %v", serr)
		}
		t.Logf("their client: %v; our server: %v", cerr, serr)
	})
}
