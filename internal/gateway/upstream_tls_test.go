package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and
// api.internal, and a client certificate, all written as PEM files in dir.
type testPKI struct {
	dir                       string
	ca                        *x509.CertPool
	server                    tls.Certificate
	caFile, certFile, keyFile string // the CA, and the client's certificate and key
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "duohuo test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p := &testPKI{dir: dir, ca: x509.NewCertPool()}
	p.ca.AddCert(caCert)
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	srvDER, srvKey := leaf(2, "api.internal", x509.ExtKeyUsageServerAuth, []string{"api.internal"}, nil)
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := leaf(3, "gateway", x509.ExtKeyUsageClientAuth, nil, nil)
	p.certFile = write("client.pem", "CERTIFICATE", cliDER)
	kb, err := x509.MarshalPKCS8PrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = write("client-key.pem", "PRIVATE KEY", kb)
	return p
}

// tlsUpstream is an instance that speaks TLS (HTTP/1.1 and h2 by ALPN),
// requires a client certificate from the CA, and answers with the protocol
// and the client's name; /healthz counts the probes.
func tlsUpstream(t *testing.T, p *testPKI, probes *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			probes.Add(1)
			return
		}
		fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca}
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes of TestUpstreamTLSVerifies
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// A service whose instances speak TLS with a private CA, a name that is not
// their address, and a client certificate is reached over HTTP/1.1 and h2,
// and its http health checks speak the same TLS.
func TestUpstreamTLS(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct{ protocol, want string }{
		{"http1", "HTTP/1.1 gateway"},
		{"h2", "HTTP/2.0 gateway"},
		{"auto", "HTTP/2.0 gateway"}, // ALPN picks h2
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			var probes atomic.Int64
			addr := tlsUpstream(t, p, &probes)
			// Relative paths: against the configuration file's directory.
			file := filepath.Join(p.dir, "duohuo.yaml")
			text := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health:
      active: {type: http, path: /healthz, interval: 100ms, timeout: 50ms, jitter: 0s, healthy_threshold: 1}
    upstream:
      protocol: %s
      tls:
        ca_file: ca.pem
        server_name: api.internal
        cert_file: client.pem
        key_file: client-key.pem
routes: [{name: all, service: api}]
`, addr, tc.protocol)
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			g := start(t, cfg, p.dir)
			defer g.Shutdown(t.Context())
			eventually(t, "a TLS health probe answered", 10*time.Millisecond, func() bool { return probes.Load() > 0 })
			code, body, _ := get(t, "http://"+g.Addrs()[0]+"/x")
			if code != 200 || body != tc.want {
				t.Errorf("GET through the gateway = %d %q, want 200 %q", code, body, tc.want)
			}
		})
	}
}

// Without the CA, the instance's certificate is refused: requests fail and
// the http probe, speaking the same TLS, takes the instance out.
func TestUpstreamTLSVerifies(t *testing.T) {
	p := newPKI(t)
	var probes atomic.Int64
	addr := tlsUpstream(t, p, &probes)
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health:
      active: {type: http, path: /healthz, interval: 100ms, timeout: 50ms, jitter: 0s, unhealthy_threshold: 1}
    upstream:
      tls: {server_name: api.internal, cert_file: %s, key_file: %s}
routes: [{name: all, service: api, retry: {attempts: 0}}]
`, addr, p.certFile, p.keyFile))
	g := start(t, cfg, "")
	defer g.Shutdown(t.Context())
	eventually(t, "the instance out after a failed TLS probe", 10*time.Millisecond, func() bool {
		st := g.Stats("api")
		return len(st.Tiers) > 0 && st.Tiers[0].Healthy == 0
	})
	if n := probes.Load(); n != 0 {
		t.Errorf("%d probes reached /healthz through an unverified certificate", n)
	}
	if code, body, _ := get(t, "http://"+g.Addrs()[0]+"/x"); code < 500 || strings.Contains(body, "gateway") {
		t.Errorf("GET through the gateway = %d %q, want a gateway error", code, body)
	}
}

// A missing or bad TLS file is refused when the file is loaded, with the
// place of the key that names it.
func TestUpstreamTLSFileErrors(t *testing.T) {
	p := newPKI(t)
	notPEM := filepath.Join(p.dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		name, tls, path, msg string
	}{
		{"a missing CA file", "{ca_file: missing.pem}", "services[0].upstream.tls.ca_file", "no such file"},
		{"a CA file without certificates", "{ca_file: not.pem}", "services[0].upstream.tls.ca_file", "holds no PEM certificate"},
		{"a certificate without its key", "{cert_file: client.pem}", "services[0].upstream.tls.key_file", "is required with cert_file"},
		{"a key that is not PEM", "{cert_file: client.pem, key_file: not.pem}", "services[0].upstream.tls.key_file", "client key"},
		{"a key that does not match", "{cert_file: client.pem, key_file: ca.pem}", "services[0].upstream.tls.key_file", "client key"},
		{"a certificate file that is not PEM", "{cert_file: not.pem, key_file: client-key.pem}", "services[0].upstream.tls.cert_file", "does not start with a PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(p.dir, "bad.yaml")
			text := "services:\n  - name: api\n    discovery: [{static: {instances: [{addr: \"127.0.0.1:1\"}]}}]\n    upstream:\n      tls: " + tc.tls + "\n"
			os.WriteFile(file, []byte(text), 0o600)
			_, err := config.Load(file)
			var es config.Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("Load: %v, want one config error", err)
			}
			e := es[0]
			if e.File != file || e.Line != 5 || e.Path != tc.path || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Load: %v, want %s:5: %s: …%s…", e, file, tc.path, tc.msg)
			}
		})
	}
}

// upstream.tls may be written true (the system's roots) or false.
func TestUpstreamTLSAsBoolean(t *testing.T) {
	for _, v := range []string{"true", "false"} {
		cfg := parse(t, "services:\n  - name: api\n    discovery: [{static: {instances: [{addr: \"127.0.0.1:1\"}]}}]\n    upstream:\n      tls: "+v+"\n")
		if on := cfg.Services[0].Upstream.TLS != nil; on != (v == "true") {
			t.Errorf("tls: %s: on = %v", v, on)
		}
	}
}
