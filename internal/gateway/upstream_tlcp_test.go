package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/duohuo/duohuo/gm/gmcert"
	"github.com/duohuo/duohuo/gm/tlcp"
	"github.com/duohuo/duohuo/internal/config"
)

// gmPKI is an SM2 CA with a double certificate for an instance (127.0.0.1
// and api.internal) and one for the gateway as a client, all written as
// PEM files in dir.
type gmPKI struct {
	dir    string
	pool   *smx509.CertPool
	server []tlcp.Certificate
	files  map[string]string // ca, sign_cert, sign_key, enc_cert, enc_key
}

func newGMPKI(t *testing.T) *gmPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := gmcert.NewCA("duohuo test SM2 CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(gmcert.Request{Hosts: []string{"api.internal", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.Issue(gmcert.Request{Hosts: []string{"gateway"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &gmPKI{dir: dir, pool: smx509.NewCertPool(), files: map[string]string{}}
	p.pool.AddCert(ca.Cert)
	for name, b := range map[string][]byte{
		"ca": ca.CertPEM, "sign_cert": cli.Sign.CertPEM, "sign_key": cli.Sign.KeyPEM,
		"enc_cert": cli.Enc.CertPEM, "enc_key": cli.Enc.KeyPEM,
	} {
		f := filepath.Join(dir, name+".pem")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p.files[name] = f
	}
	for _, kp := range []gmcert.KeyPair{srv.Sign, srv.Enc} {
		c, err := tlcp.X509KeyPair(kp.CertPEM, kp.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		p.server = append(p.server, c)
	}
	return p
}

type tlcpConnKey struct{}

// tlcpUpstream is an instance that speaks only TLCP (HTTP/1.1), asks for a
// client certificate from the CA when clientAuth is set, and answers with
// the suite and the client's name; /healthz counts the probes.
func tlcpUpstream(t *testing.T, p *gmPKI, clientAuth bool, probes *atomic.Int64) string {
	t.Helper()
	cfg := &tlcp.Config{Certificates: p.server}
	if clientAuth {
		cfg.ClientAuth, cfg.ClientCAs = tlcp.RequireAndVerifyClientCert, p.pool
		// The ECDHE suites need the client's encryption certificate:
		// prefer them, to see that the gateway sends it.
		cfg.CipherSuites = []uint16{tlcp.ECDHE_SM4_GCM_SM3, tlcp.ECC_SM4_GCM_SM3}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				probes.Add(1)
				return
			}
			st := r.Context().Value(tlcpConnKey{}).(*tlcp.Conn).ConnectionState()
			client := "-"
			if len(st.PeerCertificates) > 0 {
				client = st.PeerCertificates[0].Subject.CommonName
			}
			fmt.Fprintf(w, "TLCP %s %s", tlcp.CipherSuiteName(st.CipherSuite), client)
		}),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, tlcpConnKey{}, c)
		},
		ErrorLog: log.New(io.Discard, "", 0), // the refused handshakes of the failure cases
	}
	go srv.Serve(tlcp.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A service whose instances speak TLCP with a private SM2 CA is reached
// through the gateway, with and without a client double certificate, and
// its http health checks speak the same TLCP.
func TestUpstreamTLCP(t *testing.T) {
	p := newGMPKI(t)
	for _, tc := range []struct {
		name       string
		clientAuth bool
		tls        string
		want       string
	}{
		{"server authentication", false, "{tlcp: true, ca_file: ca.pem, server_name: api.internal}", "TLCP ECC_SM4_GCM_SM3 -"},
		{"the instance's address as the name", false, "{tlcp: true, ca_file: ca.pem}", "TLCP ECC_SM4_GCM_SM3 -"},
		// With a client double certificate the ECDHE suites are open.
		{"client double certificate", true, "{tlcp: true, ca_file: ca.pem, server_name: api.internal, sign_cert_file: sign_cert.pem, sign_key_file: sign_key.pem, enc_cert_file: enc_cert.pem, enc_key_file: enc_key.pem}", "TLCP ECDHE_SM4_GCM_SM3 gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var probes atomic.Int64
			addr := tlcpUpstream(t, p, tc.clientAuth, &probes)
			// Relative paths: against the configuration file's directory.
			file := filepath.Join(p.dir, "duohuo.yaml")
			text := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health:
      active: {type: http, path: /healthz, interval: 1s, timeout: 900ms, jitter: 0s, healthy_threshold: 1}
    upstream: {tls: %s}
routes: [{name: all, service: api}]
`, addr, tc.tls)
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			g := start(t, cfg, p.dir)
			defer g.Shutdown(t.Context())
			eventually(t, "a TLCP health probe answered", 10*time.Millisecond, func() bool { return probes.Load() > 0 })
			for range 3 { // the later requests on a kept-alive connection
				code, body, _ := get(t, "http://"+g.Addrs()[0]+"/x")
				if code != 200 || body != tc.want {
					t.Fatalf("GET through the gateway = %d %q, want 200 %q", code, body, tc.want)
				}
			}
		})
	}
}

// An instance the CA did not sign, a name its certificate does not hold,
// or an instance that wants a client certificate the gateway lacks: the
// requests fail with a gateway error and the probes, speaking the same
// TLCP, take the instance out.
func TestUpstreamTLCPVerifies(t *testing.T) {
	p := newGMPKI(t)
	other := newGMPKI(t) // another CA
	for _, tc := range []struct {
		name       string
		clientAuth bool
		tls        string
	}{
		{"another CA", false, "{tlcp: true, ca_file: " + other.files["ca"] + ", server_name: api.internal}"},
		{"a name the certificate does not hold", false, "{tlcp: true, ca_file: " + p.files["ca"] + ", server_name: db.internal}"},
		{"no client certificate", true, "{tlcp: true, ca_file: " + p.files["ca"] + ", server_name: api.internal}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var probes atomic.Int64
			addr := tlcpUpstream(t, p, tc.clientAuth, &probes)
			cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health:
      active: {type: http, path: /healthz, interval: 1s, timeout: 900ms, jitter: 0s, unhealthy_threshold: 1}
    upstream: {tls: %s}
routes: [{name: all, service: api, retry: {attempts: 0}}]
`, addr, tc.tls))
			g := start(t, cfg, "")
			defer g.Shutdown(t.Context())
			eventually(t, "the instance out after a failed TLCP probe", 10*time.Millisecond, func() bool {
				st := g.Stats("api")
				return len(st.Tiers) > 0 && st.Tiers[0].Healthy == 0
			})
			if n := probes.Load(); n != 0 {
				t.Errorf("%d probes reached /healthz through a refused handshake", n)
			}
			if code, body, _ := get(t, "http://"+g.Addrs()[0]+"/x"); code < 500 || strings.Contains(body, "TLCP") {
				t.Errorf("GET through the gateway = %d %q, want a gateway error", code, body)
			}
		})
	}
}

// A TLS instance behind tlcp: true: the handshake fails (the instance
// answers a TLCP hello with an alert), the gateway answers with its own
// error and stays up for the next request.
func TestUpstreamTLCPAgainstATLSInstance(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "TLS")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health: {active: {type: none}}
    upstream: {tls: {tlcp: true, insecure_skip_verify: true}}
routes: [{name: all, service: api, retry: {attempts: 0}}]
`, srv.Listener.Addr()))
	g := start(t, cfg, "")
	defer g.Shutdown(t.Context())
	for range 2 {
		if code, body, _ := get(t, "http://"+g.Addrs()[0]+"/x"); code < 500 || body == "TLS" {
			t.Errorf("GET through the gateway = %d %q, want a gateway error", code, body)
		}
	}
}
