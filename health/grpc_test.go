package health_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/duohuo/duohuo/health"
)

// grpcProbes configures gRPC probes for tests: every 500ms with a 500ms
// timeout, which leaves a new HTTP/2 connection and a TLS handshake room on
// a loaded or emulated (qemu) machine, and thresholds of 1 so that each
// transition takes one probe. Tests wait with waitFor, which does not
// depend on how long probes take.
func grpcProbes(p health.ProbeConfig) health.Config {
	p.GRPC = true
	return slowProbes(p)
}

// slowProbes is grpcProbes for any probe type.
func slowProbes(p health.ProbeConfig) health.Config {
	if p.Interval == 0 {
		p.Interval = 500 * time.Millisecond
	}
	if p.Timeout == 0 {
		p.Timeout = 500 * time.Millisecond
	}
	p.Jitter = -1
	p.UnhealthyThreshold, p.HealthyThreshold = 1, 1
	return health.Config{Probe: p}
}

// waitFor polls the state of id until ok accepts it, and fails after 30s,
// a bound for a stuck test, not a measure of speed. It polls because a
// reason may change without a change notice.
func waitFor(t *testing.T, tr *health.Tracker, id, what string, ok func(health.State) bool) health.State {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, _ := tr.State(id)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("State(%q) = %+v after 30s, want %s", id, s, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitUnhealthy waits until id is Unhealthy, with weight 0 and a reason
// containing reason.
func waitUnhealthy(t *testing.T, tr *health.Tracker, id, reason string) health.State {
	t.Helper()
	return waitFor(t, tr, id, "Unhealthy, weight 0, a reason containing "+strconv.Quote(reason), func(s health.State) bool {
		return s.Status == health.Unhealthy && s.Weight == 0 && strings.Contains(s.Reason, reason)
	})
}

func waitHealthy(t *testing.T, tr *health.Tracker, id string) {
	t.Helper()
	waitFor(t, tr, id, "Healthy", func(s health.State) bool { return s.Status == health.Healthy && s.Weight > 0 })
}

// call is what the gRPC server saw of one probe.
type call struct {
	authority, userAgent string
	hasDeadline          bool
	service              string
}

// grpcServer is a real grpc-go server running grpc's health service.
type grpcServer struct {
	addr   netip.AddrPort
	health *grpchealth.Server
	srv    *grpc.Server
	mu     sync.Mutex
	calls  []call // guarded by mu
}

// startGRPC starts a grpc-go server with the standard health service on
// loopback; it is stopped when the test ends. grpc's health server answers
// SERVING for "" and NOT_FOUND for services it was not told about.
func startGRPC(t *testing.T, opts ...grpc.ServerOption) *grpcServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcServer{addr: addrOf(t, ln.Addr()), health: grpchealth.NewServer()}
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		_, dl := ctx.Deadline()
		c := call{hasDeadline: dl}
		if v := md.Get(":authority"); len(v) > 0 {
			c.authority = v[0]
		}
		if v := md.Get("user-agent"); len(v) > 0 {
			c.userAgent = v[0]
		}
		if r, ok := req.(*healthpb.HealthCheckRequest); ok {
			c.service = r.GetService()
		}
		g.mu.Lock()
		g.calls = append(g.calls, c)
		g.mu.Unlock()
		return h(ctx, req)
	}
	g.srv = grpc.NewServer(append(opts, grpc.UnaryInterceptor(record))...)
	healthpb.RegisterHealthServer(g.srv, g.health)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		g.srv.Stop()
		<-done
	})
	return g
}

func (g *grpcServer) lastCall(t *testing.T) call {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.calls) == 0 {
		t.Fatal("the gRPC server saw no probe")
	}
	return g.calls[len(g.calls)-1]
}

// followsServing flips the serving status of service and waits for the
// Tracker to follow: NOT_SERVING makes the instance Unhealthy, with a reason
// that proves the call reached the health service, and SERVING makes it
// Healthy again, which takes a passing probe.
func followsServing(t *testing.T, tr *health.Tracker, g *grpcServer, service string) {
	t.Helper()
	id := g.addr.String()
	g.health.SetServingStatus(service, healthpb.HealthCheckResponse_NOT_SERVING)
	waitUnhealthy(t, tr, id, "NOT_SERVING")
	g.health.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
	waitHealthy(t, tr, id)
}

func TestGRPCProbeFollowsTheServingStatus(t *testing.T) {
	for _, c := range []struct {
		name, service string
	}{
		{"the server as a whole", ""},
		{"a named service", "shop.Cart"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := startGRPC(t)
			g.health.SetServingStatus(c.service, healthpb.HealthCheckResponse_SERVING)
			tr := track(t, grpcProbes(health.ProbeConfig{GRPCService: c.service}), g.addr)
			followsServing(t, tr, g, c.service)
			if got := g.lastCall(t); got.service != c.service {
				t.Fatalf("the server was asked about %q, want %q", got.service, c.service)
			}
		})
	}
}

func TestGRPCProbeSendsAuthorityAndDeadline(t *testing.T) {
	g := startGRPC(t)
	tr := track(t, grpcProbes(health.ProbeConfig{Host: "cart.internal"}), g.addr)
	followsServing(t, tr, g, "")
	got := g.lastCall(t)
	if got.authority != "cart.internal" || !got.hasDeadline || !strings.HasPrefix(got.userAgent, "duohuo-health") {
		t.Fatalf("the server saw %+v, want authority cart.internal, a deadline and user agent duohuo-health", got)
	}
}

// blackhole accepts connections and reads them, never answering, until the
// client closes them; Close waits for every connection to be closed by
// the client.
type blackhole struct {
	ln net.Listener
	wg sync.WaitGroup
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Go(func() {
				io.Copy(io.Discard, c) // until the client closes
				c.Close()
			})
		}
	})
	return b
}

// close stops accepting and waits until the client closed every connection
// it opened, failing after 5s.
func (b *blackhole) close(t *testing.T) {
	t.Helper()
	b.ln.Close()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // generous: a leak check, run under emulators too
		t.Fatal("a probe connection to the blackhole was still open 30s after the Tracker closed")
	}
}

func TestGRPCProbeFailures(t *testing.T) {
	cert, pool := selfSigned(t, "grpc.example")
	for _, c := range []struct {
		name string
		// start returns the instance to probe; cleanups are the test's.
		start  func(t *testing.T) netip.AddrPort
		probe  health.ProbeConfig
		reason string // a part of the Unhealthy reason
	}{
		{"NOT_SERVING fails", func(t *testing.T) netip.AddrPort {
			g := startGRPC(t)
			g.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			return g.addr
		}, health.ProbeConfig{}, "grpc health: the server is NOT_SERVING"},
		{"an unknown service fails with NOT_FOUND", func(t *testing.T) netip.AddrPort {
			return startGRPC(t).addr
		}, health.ProbeConfig{GRPCService: "no.Such"}, "NOT_FOUND (5): unknown service"},
		{"a server without the health service fails with UNIMPLEMENTED", func(t *testing.T) netip.AddrPort {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := grpc.NewServer()
			done := make(chan struct{})
			go func() { defer close(done); srv.Serve(ln) }()
			t.Cleanup(func() { srv.Stop(); <-done })
			return addrOf(t, ln.Addr())
		}, health.ProbeConfig{}, "UNIMPLEMENTED"},
		{"a server gone fails", func(t *testing.T) netip.AddrPort {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			a := addrOf(t, ln.Addr())
			ln.Close()
			return a
		}, health.ProbeConfig{}, "refused"},
		{"a server that never answers fails at the probe timeout", func(t *testing.T) netip.AddrPort {
			b := newBlackhole(t)
			t.Cleanup(func() { b.close(t) }) // after the Tracker's Close: probes' connections are closed
			return addrOf(t, b.ln.Addr())
		}, health.ProbeConfig{Timeout: 20 * time.Millisecond}, "deadline exceeded"},
		{"an HTTP/1.1 server fails", func(t *testing.T) netip.AddrPort {
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(srv.Close)
			return addrOf(t, srv.Listener.Addr())
		}, health.ProbeConfig{}, `Post "http://`}, // the error varies: a frame error, a broken pipe
		{"an h2c server that is not gRPC fails", func(t *testing.T) netip.AddrPort {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("hello"))
			}))
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			t.Cleanup(srv.Close)
			return addrOf(t, srv.Listener.Addr())
		}, health.ProbeConfig{}, `content-type "text/plain; charset=utf-8", want application/grpc`},
		{"a cleartext probe of a TLS server fails", func(t *testing.T) netip.AddrPort {
			return startGRPC(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))).addr
		}, health.ProbeConfig{}, `Post "http://`},
		{"a TLS probe fails on a certificate it does not trust", func(t *testing.T) netip.AddrPort {
			return startGRPC(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))).addr
		}, health.ProbeConfig{TLS: &tls.Config{ServerName: "grpc.example"}}, "certificate"},
		{"a TLS probe fails on a name the certificate does not have", func(t *testing.T) netip.AddrPort {
			return startGRPC(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))).addr
		}, health.ProbeConfig{TLS: &tls.Config{RootCAs: pool}, Host: "other.example"}, "other.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each case waits on its own probes
			a := c.start(t)
			tr := track(t, grpcProbes(c.probe), a)
			waitUnhealthy(t, tr, a.String(), c.reason)
		})
	}
}

func TestGRPCProbeOverTLS(t *testing.T) {
	cert, pool := selfSigned(t, "grpc.example")
	for _, c := range []struct {
		name  string
		probe health.ProbeConfig
	}{
		{"the server name from the TLS config", health.ProbeConfig{TLS: &tls.Config{RootCAs: pool, ServerName: "grpc.example"}}},
		{"the server name from Host", health.ProbeConfig{TLS: &tls.Config{RootCAs: pool}, Host: "grpc.example:443"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := startGRPC(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
			tr := track(t, grpcProbes(c.probe), g.addr)
			followsServing(t, tr, g, "")
		})
	}
}

func TestHTTPProbeOverTLS(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusServiceUnavailable)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	a := addrOf(t, srv.Listener.Addr())
	id := a.String()
	// The test certificate names 127.0.0.1 and example.com.
	p := health.ProbeConfig{Path: "/healthz", TLS: &tls.Config{RootCAs: pool}}
	tr := track(t, slowProbes(p), a)
	// A 503 proves the exchange went through TLS; then a 200 must pass.
	waitUnhealthy(t, tr, id, "status 503")
	code.Store(http.StatusOK)
	waitHealthy(t, tr, id)

	p.TLS = &tls.Config{} // no trusted root
	waitUnhealthy(t, track(t, slowProbes(p), a), id, "certificate")
}

// selfSigned returns a self-signed certificate for the given DNS names and
// a pool that trusts it.
func selfSigned(t *testing.T, names ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
