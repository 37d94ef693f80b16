package tlcp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/gm/gmcert"
	"github.com/duohuo/duohuo/gm/tlcp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pki is a CA with a server and a client double certificate.
type pki struct {
	ca             *gmcert.CA
	pool           *smx509.CertPool
	server, client []tlcp.Certificate
}

var (
	pkiOnce  sync.Once
	pkiA     *pki
	pkiB     *pki
	pkiError error
)

func newPKI(name string) (*pki, error) {
	ca, err := gmcert.NewCA(name, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	p := &pki{ca: ca, pool: smx509.NewCertPool()}
	p.pool.AddCert(ca.Cert)
	for _, client := range []bool{false, true} {
		pair, err := ca.Issue(gmcert.Request{Hosts: []string{"localhost", "127.0.0.1"}, Client: client})
		if err != nil {
			return nil, err
		}
		var certs []tlcp.Certificate
		for _, kp := range []gmcert.KeyPair{pair.Sign, pair.Enc} {
			c, err := tlcp.X509KeyPair(kp.CertPEM, kp.KeyPEM)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
		if client {
			p.client = certs
		} else {
			p.server = certs
		}
	}
	return p, nil
}

// testPKI returns two independent PKIs, made once per test binary.
func testPKI(t testing.TB) (a, b *pki) {
	t.Helper()
	pkiOnce.Do(func() {
		if pkiA, pkiError = newPKI("test CA A"); pkiError == nil {
			pkiB, pkiError = newPKI("test CA B")
		}
	})
	if pkiError != nil {
		t.Fatal(pkiError)
	}
	return pkiA, pkiB
}

// server is a TLCP echo server on loopback. Each connection's handshake
// error (nil when it succeeded) is sent on errs.
type server struct {
	ln   net.Listener
	wg   sync.WaitGroup
	errs chan error
	// states receives each connection's state after its handshake.
	states chan tlcp.ConnectionState
}

func startServer(t *testing.T, cfg *tlcp.Config) *server {
	t.Helper()
	ln, err := tlcp.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, errs: make(chan error, 16), states: make(chan tlcp.ConnectionState, 16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				tc := c.(*tlcp.Conn)
				tc.SetDeadline(time.Now().Add(time.Minute))
				err := tc.Handshake()
				s.errs <- err
				if err != nil {
					return
				}
				s.states <- tc.ConnectionState()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func dial(t *testing.T, addr string, cfg *tlcp.Config) (*tlcp.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := (&tlcp.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c.(*tlcp.Conn), nil
}

func echo(t *testing.T, c *tlcp.Conn, size int) {
	t.Helper()
	msg := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		errc <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes differs", size)
	}
}

func TestHandshakeInEverySuite(t *testing.T) {
	a, _ := testPKI(t)
	for _, id := range tlcp.CipherSuites() {
		ecdhe := id == tlcp.ECDHE_SM4_GCM_SM3 || id == tlcp.ECDHE_SM4_CBC_SM3
		t.Run(tlcp.CipherSuiteName(id), func(t *testing.T) {
			scfg := &tlcp.Config{Certificates: a.server, CipherSuites: []uint16{id}}
			ccfg := &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", CipherSuites: []uint16{id}}
			if ecdhe {
				scfg.ClientAuth, scfg.ClientCAs = tlcp.RequireAndVerifyClientCert, a.pool
				ccfg.Certificates = a.client
			}
			s := startServer(t, scfg)
			c, err := dial(t, s.addr(), ccfg)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			st := c.ConnectionState()
			if st.Version != tlcp.VersionTLCP || st.CipherSuite != id || !st.HandshakeComplete || st.DidResume {
				t.Errorf("client state = version %#x suite %s complete %v resumed %v, want %#x %s true false",
					st.Version, tlcp.CipherSuiteName(st.CipherSuite), st.HandshakeComplete, st.DidResume, tlcp.VersionTLCP, tlcp.CipherSuiteName(id))
			}
			if len(st.PeerCertificates) != 2 || len(st.VerifiedChains) == 0 {
				t.Errorf("client sees %d peer certificates and %d chains, want 2 and at least 1", len(st.PeerCertificates), len(st.VerifiedChains))
			}
			if err := <-s.errs; err != nil {
				t.Fatalf("server handshake: %v", err)
			}
			ss := <-s.states
			if ecdhe && len(ss.PeerCertificates) != 2 {
				t.Errorf("server sees %d client certificates, want 2", len(ss.PeerCertificates))
			}
			// Several records each way, and one byte.
			echo(t, c, 100_000)
			echo(t, c, 1)
		})
	}
}

func TestServerPrefersGCMAndECC(t *testing.T) {
	a, _ := testPKI(t)
	s := startServer(t, &tlcp.Config{Certificates: a.server, ClientAuth: tlcp.RequestClientCert})
	c, err := dial(t, s.addr(), &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Certificates: a.client,
		CipherSuites: []uint16{tlcp.ECDHE_SM4_CBC_SM3, tlcp.ECC_SM4_CBC_SM3, tlcp.ECC_SM4_GCM_SM3}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectionState().CipherSuite; got != tlcp.ECC_SM4_GCM_SM3 {
		t.Errorf("suite = %s, want ECC_SM4_GCM_SM3 (the server's order)", tlcp.CipherSuiteName(got))
	}
}

func TestECCWithClientAuthentication(t *testing.T) {
	a, _ := testPKI(t)
	s := startServer(t, &tlcp.Config{Certificates: a.server, ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: a.pool})
	// A signing certificate alone is enough for the ECC suites.
	c, err := dial(t, s.addr(), &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Certificates: a.client[:1]})
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, 10)
	if err := <-s.errs; err != nil {
		t.Fatal(err)
	}
	st := <-s.states
	if len(st.PeerCertificates) != 1 || len(st.VerifiedChains) == 0 {
		t.Errorf("server sees %d client certificates, %d chains; want 1 and verified", len(st.PeerCertificates), len(st.VerifiedChains))
	}
}

func TestRefusals(t *testing.T) {
	a, b := testPKI(t)
	var alertErr *tlcp.AlertError
	tests := []struct {
		name   string
		server *tlcp.Config
		client *tlcp.Config
		// check gets the client's and the server's errors.
		check func(t *testing.T, cerr, serr error)
	}{{
		name:   "a server certificate from an unknown CA",
		server: &tlcp.Config{Certificates: b.server},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "localhost"},
		check: func(t *testing.T, cerr, serr error) {
			if !errors.Is(cerr, tlcp.ErrUnknownAuthority) {
				t.Errorf("client error = %v, want ErrUnknownAuthority", cerr)
			}
			if !errors.As(serr, &alertErr) || !alertErr.Remote || alertErr.Alert != 48 {
				t.Errorf("server error = %v, want a remote unknown_ca alert", serr)
			}
		},
	}, {
		name:   "a server name the certificate does not hold",
		server: &tlcp.Config{Certificates: a.server},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "example.com"},
		check: func(t *testing.T, cerr, serr error) {
			var he smx509.HostnameError
			if !errors.As(cerr, &he) {
				t.Errorf("client error = %v, want a HostnameError", cerr)
			}
		},
	}, {
		name:   "a client certificate from an unknown CA",
		server: &tlcp.Config{Certificates: a.server, ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: a.pool},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Certificates: b.client},
		check: func(t *testing.T, cerr, serr error) {
			if !errors.Is(serr, tlcp.ErrUnknownAuthority) {
				t.Errorf("server error = %v, want ErrUnknownAuthority", serr)
			}
		},
	}, {
		name:   "no client certificate where one is required",
		server: &tlcp.Config{Certificates: a.server, ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: a.pool},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "localhost"},
		check: func(t *testing.T, cerr, serr error) {
			if serr == nil || cerr == nil {
				t.Errorf("errors = client %v, server %v; want both", cerr, serr)
			}
		},
	}, {
		name:   "ECDHE without a client encryption certificate",
		server: &tlcp.Config{Certificates: a.server, ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: a.pool, CipherSuites: []uint16{tlcp.ECDHE_SM4_GCM_SM3}},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Certificates: a.client[:1]},
		check: func(t *testing.T, cerr, serr error) {
			if cerr == nil || serr == nil {
				t.Errorf("errors = client %v, server %v; want both", cerr, serr)
			}
		},
	}, {
		name:   "ECDHE only, from a server that asks no client certificate",
		server: &tlcp.Config{Certificates: a.server},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Certificates: a.client, CipherSuites: []uint16{tlcp.ECDHE_SM4_CBC_SM3}},
		check: func(t *testing.T, cerr, serr error) {
			if !errors.As(cerr, &alertErr) || alertErr.Alert != 40 {
				t.Errorf("client error = %v, want a handshake_failure alert", cerr)
			}
		},
	}, {
		name:   "no common ALPN protocol",
		server: &tlcp.Config{Certificates: a.server, NextProtos: []string{"h2"}},
		client: &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}},
		check: func(t *testing.T, cerr, serr error) {
			if !errors.As(cerr, &alertErr) || alertErr.Alert != 120 {
				t.Errorf("client error = %v, want a no_application_protocol alert", cerr)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.server)
			c, cerr := dial(t, s.addr(), tt.client)
			if cerr == nil {
				// A client that sent its last flight learns of the
				// refusal on its first read.
				_, cerr = c.Read(make([]byte, 1))
			}
			tt.check(t, cerr, <-s.errs)
		})
	}
}

func TestServerOptionsAreHonoured(t *testing.T) {
	a, _ := testPKI(t)
	t.Run("ALPN picks the server's first protocol the client offers", func(t *testing.T) {
		s := startServer(t, &tlcp.Config{Certificates: a.server, NextProtos: []string{"h2", "http/1.1"}})
		c, err := dial(t, s.addr(), &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", NextProtos: []string{"http/1.1", "h2"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ConnectionState().NegotiatedProtocol; got != "h2" {
			t.Errorf("NegotiatedProtocol = %q, want h2", got)
		}
		<-s.errs
		if got := (<-s.states).ServerName; got != "localhost" {
			t.Errorf("server sees ServerName %q, want localhost", got)
		}
	})
}

func TestSessionResumption(t *testing.T) {
	a, _ := testPKI(t)
	for _, id := range []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECDHE_SM4_CBC_SM3} {
		t.Run(tlcp.CipherSuiteName(id), func(t *testing.T) {
			s := startServer(t, &tlcp.Config{Certificates: a.server, ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: a.pool})
			ccfg := &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Certificates: a.client,
				CipherSuites: []uint16{id}, ClientSessionCache: tlcp.NewLRUClientSessionCache(4)}
			for i, want := range []bool{false, true, true} {
				c, err := dial(t, s.addr(), ccfg)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				echo(t, c, 1000)
				st := c.ConnectionState()
				if st.DidResume != want || st.CipherSuite != id || len(st.PeerCertificates) != 2 {
					t.Errorf("connection %d: resumed %v suite %s peers %d, want %v %s 2", i, st.DidResume, tlcp.CipherSuiteName(st.CipherSuite), len(st.PeerCertificates), want, tlcp.CipherSuiteName(id))
				}
				if err := <-s.errs; err != nil {
					t.Fatal(err)
				}
				if ss := <-s.states; ss.DidResume != want || len(ss.PeerCertificates) != 2 {
					t.Errorf("connection %d: server resumed %v with %d client certificates, want %v and 2", i, ss.DidResume, len(ss.PeerCertificates), want)
				}
				c.Close()
			}
		})
	}
	t.Run("not when the server keeps no sessions", func(t *testing.T) {
		s := startServer(t, &tlcp.Config{Certificates: a.server, SessionCacheSize: -1})
		ccfg := &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", ClientSessionCache: tlcp.NewLRUClientSessionCache(4)}
		for i := range 2 {
			c, err := dial(t, s.addr(), ccfg)
			if err != nil {
				t.Fatal(err)
			}
			if c.ConnectionState().DidResume {
				t.Errorf("connection %d resumed", i)
			}
			<-s.errs
			<-s.states
			c.Close()
		}
	})
}

// tamperConn flips one bit of the next write after arm is set, at byte at
// of it (counted from its end when negative).
type tamperConn struct {
	net.Conn
	arm atomic.Bool
	at  int
}

func (c *tamperConn) Write(b []byte) (int, error) {
	if c.arm.CompareAndSwap(true, false) {
		b = bytes.Clone(b)
		i := c.at
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x40
	}
	return c.Conn.Write(b)
}

func TestTamperedRecordsAreRefused(t *testing.T) {
	a, _ := testPKI(t)
	for _, id := range []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECC_SM4_CBC_SM3} {
		// Byte 5 is the explicit nonce (GCM) or IV (CBC), byte 30 is
		// ciphertext, the last byte is the tag (GCM) or padding (CBC).
		for _, at := range []int{5, 30, -1} {
			s := startServer(t, &tlcp.Config{Certificates: a.server})
			raw, err := net.Dial("tcp", s.addr())
			if err != nil {
				t.Fatal(err)
			}
			tc := &tamperConn{Conn: raw, at: at}
			c := tlcp.Client(tc, &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", CipherSuites: []uint16{id}})
			c.SetDeadline(time.Now().Add(time.Minute))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-s.errs; err != nil {
				t.Fatal(err)
			}
			<-s.states
			tc.arm.Store(true)
			if _, err := c.Write(make([]byte, 40)); err != nil {
				t.Fatal(err)
			}
			var alertErr *tlcp.AlertError
			_, err = c.Read(make([]byte, 1))
			if !errors.As(err, &alertErr) || !alertErr.Remote || alertErr.Alert != 20 {
				t.Errorf("%s, bit flipped at %d: client read error = %v, want a remote bad_record_mac alert", tlcp.CipherSuiteName(id), at, err)
			}
			c.Close()
		}
	}
}

func TestDeadlines(t *testing.T) {
	a, _ := testPKI(t)
	// A peer that accepts and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	held.Add(1)
	go func() {
		defer held.Done()
		var conns []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { silent.Close(); held.Wait() })
	ccfg := &tlcp.Config{RootCAs: a.pool, ServerName: "localhost"}

	t.Run("a handshake stops at the connection's deadline", func(t *testing.T) {
		raw, err := net.Dial("tcp", silent.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		c := tlcp.Client(raw, ccfg)
		c.SetDeadline(time.Now().Add(50 * time.Millisecond))
		var ne net.Error
		if err := c.Handshake(); !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("Handshake = %v, want a timeout", err)
		}
	})
	t.Run("a handshake stops when its context ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := (&tlcp.Dialer{Config: ccfg}).DialContext(ctx, "tcp", silent.Addr().String())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("DialContext = %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("a server handshake stops at its deadline", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		quiet, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer quiet.Close()
		raw, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c := tlcp.Server(raw, &tlcp.Config{Certificates: a.server})
		defer c.Close()
		c.SetDeadline(time.Now().Add(50 * time.Millisecond))
		var ne net.Error
		if err := c.Handshake(); !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("Handshake = %v, want a timeout", err)
		}
	})
	t.Run("a read deadline can be retried", func(t *testing.T) {
		s := startServer(t, &tlcp.Config{Certificates: a.server})
		c, err := dial(t, s.addr(), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		var ne net.Error
		if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read = %v, want a timeout", err)
		}
		c.SetReadDeadline(time.Time{})
		echo(t, c, 5000)
	})
}

func TestCloseNotify(t *testing.T) {
	a, _ := testPKI(t)
	s := startServer(t, &tlcp.Config{Certificates: a.server})
	c, err := dial(t, s.addr(), &tlcp.Config{RootCAs: a.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, 10)
	// CloseWrite sends close_notify; the echo server's io.Copy ends, its
	// deferred Close sends close_notify back, and our Read sees io.EOF.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("Write after CloseWrite succeeded")
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after the peer's close_notify = %d, %v; want 0, io.EOF", n, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
}

func TestPeersThatDoNotSpeakTLCP(t *testing.T) {
	a, _ := testPKI(t)
	s := startServer(t, &tlcp.Config{Certificates: a.server})
	raw, err := net.Dial("tcp", s.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err == nil {
		t.Error("a TLS client completed a handshake with a TLCP server")
	}
	if err := <-s.errs; !errors.Is(err, tlcp.ErrNotTLCP) {
		t.Errorf("server error = %v, want ErrNotTLCP", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := tlcp.Listen("tcp", "127.0.0.1:0", &tlcp.Config{}); err == nil {
		t.Error("Listen without certificates succeeded")
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if err := tlcp.Client(c1, &tlcp.Config{}).Handshake(); err == nil {
		t.Error("a client without ServerName or InsecureSkipVerify started a handshake")
	}
	if _, err := tlcp.X509KeyPair([]byte("no pem"), []byte("no pem")); err == nil {
		t.Error("X509KeyPair of garbage succeeded")
	}
	a, _ := testPKI(t)
	pair, err := a.ca.Issue(gmcert.Request{Hosts: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlcp.X509KeyPair(pair.Sign.CertPEM, pair.Enc.KeyPEM); err == nil {
		t.Error("X509KeyPair with the wrong key succeeded")
	}
}

// clock is a settable time for Config.Time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestSessionsExpire(t *testing.T) {
	a, _ := testPKI(t)
	clk := &clock{now: time.Now()}
	s := startServer(t, &tlcp.Config{Certificates: a.server, Time: clk.Now, SessionLifetime: time.Hour})
	ccfg := &tlcp.Config{RootCAs: a.pool, ServerName: "localhost", Time: clk.Now, SessionLifetime: 2 * time.Hour,
		ClientSessionCache: tlcp.NewLRUClientSessionCache(4)}
	for i, step := range []struct {
		advance time.Duration
		resume  bool
	}{{0, false}, {30 * time.Minute, true}, {61 * time.Minute, false}, {0, true}} {
		clk.add(step.advance)
		c, err := dial(t, s.addr(), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ConnectionState().DidResume; got != step.resume {
			t.Errorf("connection %d, %v after the last: resumed %v, want %v", i, step.advance, got, step.resume)
		}
		<-s.errs
		<-s.states
		c.Close()
	}
}
