package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/duohuo/duohuo/gm/gmcert"
	"github.com/duohuo/duohuo/gm/tlcp"
	"github.com/duohuo/duohuo/internal/gateway"
)

// listenerCerts writes a self-signed TLS certificate for 127.0.0.1 and a
// GM CA's double certificate to dir, and returns the YAML of a listener's
// tls section naming them, with the pools that trust them.
func listenerCerts(t testing.TB, dir string) (string, *x509.CertPool, *smx509.CertPool) {
	t.Helper()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	leaf, _ := x509.ParseCertificate(der)
	intl := x509.NewCertPool()
	intl.AddCert(leaf)

	ca, err := gmcert.NewCA("gateway test GM CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue(gmcert.Request{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	gm := smx509.NewCertPool()
	gm.AddCert(ca.Cert)
	yaml := fmt.Sprintf("{cert_file: %s, key_file: %s, sign_cert_file: %s, sign_key_file: %s, enc_cert_file: %s, enc_key_file: %s}",
		write("tls.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		write("tls.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
		write("sign.crt", pair.Sign.CertPEM), write("sign.key", pair.Sign.KeyPEM),
		write("enc.crt", pair.Enc.CertPEM), write("enc.key", pair.Enc.KeyPEM))
	return yaml, intl, gm
}

// TestOnePortServesTLCPAndTLS: a listener with both certificates answers a
// TLCP client and a TLS 1.3 client (over h2) on the same port, and only
// TLCP with crypto.suites gm.
func TestOnePortServesTLCPAndTLS(t *testing.T) {
	dir := t.TempDir()
	tlsYAML, intlPool, gmPool := listenerCerts(t, dir)
	echoProto := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "api "+r.Header.Get("X-Forwarded-Proto"))
	}))
	defer echoProto.Close()
	up := echoProto.Listener.Addr().String()
	for _, suites := range []string{"auto", "gm"} {
		t.Run(suites, func(t *testing.T) {
			cfg := parse(t, fmt.Sprintf(`
crypto: {suites: auto}
listeners: [{name: public, listen: "127.0.0.1:0", tls: %s}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, tlsYAML, up))
			if suites == "gm" {
				// The file would be refused with cert_file under gm;
				// what the gateway does with such a config is to leave
				// TLS out.
				cfg.Crypto.Suites = "gm"
			}
			g := start(t, cfg, dir)
			defer g.Shutdown(context.Background())
			addr := g.Addrs()[0]

			gmClient := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
				DialTLSContext: (&tlcp.Dialer{Config: &tlcp.Config{RootCAs: gmPool, ServerName: "127.0.0.1"}}).DialContext,
			}}
			defer gmClient.CloseIdleConnections()
			resp, err := gmClient.Get("https://" + addr + "/")
			if err != nil {
				t.Fatalf("TLCP client: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "api https" {
				t.Errorf("TLCP client: %d %q, want 200 \"api https\"", resp.StatusCode, body)
			}

			intl := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: intlPool, MinVersion: tls.VersionTLS13}, ForceAttemptHTTP2: true}
			defer intl.CloseIdleConnections()
			resp, err = (&http.Client{Timeout: time.Minute, Transport: intl}).Get("https://" + addr + "/")
			if suites == "gm" {
				if err == nil {
					resp.Body.Close()
					t.Fatal("a TLS client was answered by a gm listener")
				}
				return
			}
			if err != nil {
				t.Fatalf("TLS 1.3 client: %v", err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "api https" || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 || resp.ProtoMajor != 2 {
				t.Errorf("TLS client: %d %q over %s, want 200 api over TLS 1.3 and HTTP/2", resp.StatusCode, body, resp.Proto)
			}
		})
	}
}

func TestListenerCertificateErrorsStopStart(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, `
listeners: [{name: public, listen: "127.0.0.1:0", tls: {sign_cert_file: /nonexistent/s.crt, sign_key_file: s.key, enc_cert_file: e.crt, enc_key_file: e.key}}]
services: [{name: api, discovery: [{static: {instances: [{addr: "127.0.0.1:1"}]}}]}]
routes: [{name: all, service: api}]
`)
	g, err := gateway.New(gateway.Options{Config: cfg, BaseDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	if err := g.Start(); err == nil {
		t.Fatal("Start with a missing TLCP certificate succeeded")
	}
}
