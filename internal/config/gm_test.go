package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCryptoSuitesAndListenerCertificates: crypto.suites decides which
// certificates a TLS listener must and must not have.
func TestCryptoSuitesAndListenerCertificates(t *testing.T) {
	const intl = "cert_file: c.pem\n      key_file: k.pem\n"
	const gm = "sign_cert_file: s.pem\n      sign_key_file: sk.pem\n      enc_cert_file: e.pem\n      enc_key_file: ek.pem\n"
	tests := []struct {
		name, suites, tls string
		wantPath          string // "" means valid
		wantMsg           string
	}{
		{"auto with a TLS certificate", "auto", intl, "", ""},
		{"auto with a double certificate", "auto", gm, "", ""},
		{"auto with both", "auto", intl + "      " + gm, "", ""},
		{"gm with a double certificate", "gm", gm, "", ""},
		{"gm with a TLS certificate too", "gm", intl + "      " + gm, "listeners[0].tls.cert_file", "serve only TLCP"},
		{"gm with only a TLS certificate", "gm", intl, "listeners[0].tls", "needs sign_cert_file"},
		{"international with a TLS certificate", "international", intl, "", ""},
		{"international with a double certificate", "international", intl + "      " + gm, "listeners[0].tls.sign_cert_file", "serve only TLS"},
		{"a double certificate without its encryption key", "auto", "sign_cert_file: s.pem\n      sign_key_file: sk.pem\n      enc_cert_file: e.pem\n", "listeners[0].tls.enc_key_file", "is required"},
		{"a certificate without its key", "auto", "cert_file: c.pem\n", "listeners[0].tls.key_file", "is required with cert_file"},
		{"no certificate at all", "auto", "{}\n", "listeners[0].tls", "needs cert_file and key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "crypto:\n  suites: " + tt.suites + "\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n    tls:\n      " + tt.tls
			cfg, err := parse("t.yaml", []byte(text), testEnv)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("parse:\n%s\n%v", text, err)
				}
				if len(cfg.Warnings) != 0 {
					t.Errorf("warnings %v, want none", cfg.Warnings)
				}
				return
			}
			es := errorsOf(t, err)
			if len(es) != 1 || es[0].Path != tt.wantPath || !strings.Contains(es[0].Msg, tt.wantMsg) {
				t.Errorf("parse:\n%s\nerrors %v, want one at %s containing %q", text, err, tt.wantPath, tt.wantMsg)
			}
		})
	}
}

// TestUpstreamTLCP: the rules of upstream.tls with tlcp, against
// crypto.suites, the upstream protocol and the health check type, and the
// files it names.
func TestUpstreamTLCP(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert := write("c.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	key := write("k.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	notPEM := write("x.pem", "not pem\n")
	tests := []struct {
		name, suites, upstream, health string
		wantPath, wantMsg              string // "" means valid
	}{
		{"auto with tlcp and a CA", "auto", "tls: {tlcp: true, ca_file: " + cert + "}", "", "", ""},
		{"gm with tlcp", "gm", "tls: {tlcp: true, ca_file: " + cert + "}", "", "", ""},
		{"gm with a client double certificate", "gm", "tls: {tlcp: true, ca_file: " + cert + ", sign_cert_file: " + cert + ", sign_key_file: " + key + ", enc_cert_file: " + cert + ", enc_key_file: " + key + "}", "", "", ""},
		{"gm with only a signing certificate", "gm", "tls: {tlcp: true, ca_file: " + cert + ", sign_cert_file: " + cert + ", sign_key_file: " + key + "}", "", "", ""},
		{"tlcp unverified", "auto", "tls: {tlcp: true, insecure_skip_verify: true}", "", "", ""},
		{"tlcp without a CA", "auto", "tls: {tlcp: true}", "", "services[0].upstream.tls.ca_file", "is required with tlcp"},
		{"gm with TLS", "gm", "tls: true", "", "services[0].upstream.tls", "set tlcp: true"},
		{"international with tlcp", "international", "tls: {tlcp: true, insecure_skip_verify: true}", "", "services[0].upstream.tls.tlcp", "speak only TLS"},
		{"double certificate files without tlcp", "auto", "tls: {sign_cert_file: " + cert + ", sign_key_file: " + key + "}", "", "services[0].upstream.tls.tlcp", "is required"},
		{"a TLS client certificate with tlcp", "auto", "tls: {tlcp: true, cert_file: " + cert + ", key_file: " + key + "}", "", "services[0].upstream.tls.cert_file", "TLCP does not use"},
		{"a signing certificate without its key", "auto", "tls: {tlcp: true, ca_file: " + cert + ", sign_cert_file: " + cert + "}", "", "services[0].upstream.tls.sign_key_file", "is required with sign_cert_file"},
		{"an encryption certificate without a signing one", "auto", "tls: {tlcp: true, ca_file: " + cert + ", enc_cert_file: " + cert + ", enc_key_file: " + key + "}", "", "services[0].upstream.tls.sign_cert_file", "is required with enc_cert_file"},
		{"a CA file that is not PEM", "auto", "tls: {tlcp: true, ca_file: " + notPEM + "}", "", "services[0].upstream.tls.ca_file", "holds no PEM certificate"},
		{"a key file that does not exist", "auto", "tls: {tlcp: true, ca_file: " + cert + ", sign_cert_file: " + cert + ", sign_key_file: " + filepath.Join(dir, "none.pem") + "}", "", "services[0].upstream.tls.sign_key_file", "no such file"},
		{"h2 over tlcp", "auto", "protocol: h2\n      tls: {tlcp: true, insecure_skip_verify: true}", "", "services[0].upstream.protocol", "cannot run over TLCP"},
		{"grpc health checks over tlcp", "auto", "tls: {tlcp: true, insecure_skip_verify: true}", "health: {active: {type: grpc}}", "services[0].health.active.type", "need HTTP/2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "crypto:\n  suites: " + tt.suites + "\n" + service + "    upstream:\n      " + tt.upstream + "\n"
			if tt.health != "" {
				text += "    " + tt.health + "\n"
			}
			cfg, err := parse("t.yaml", []byte(text), testEnv)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("parse:\n%s\n%v", text, err)
				}
				if len(cfg.Warnings) != 0 {
					t.Errorf("warnings %v, want none", cfg.Warnings)
				}
				return
			}
			es := errorsOf(t, err)
			if len(es) != 1 || es[0].Path != tt.wantPath || !strings.Contains(es[0].Msg, tt.wantMsg) {
				t.Errorf("parse:\n%s\nerrors %v, want one at %s containing %q", text, err, tt.wantPath, tt.wantMsg)
			}
		})
	}
	// A registry's tls is TLS: tlcp there is refused.
	text := "services:\n  - name: api\n    discovery:\n      - nacos: {servers: [\"http://127.0.0.1:8848\"], tls: {tlcp: true, insecure_skip_verify: true}}\n"
	es := errorsOf(t, func() error { _, err := parse("t.yaml", []byte(text), testEnv); return err }())
	if len(es) != 1 || !strings.HasSuffix(es[0].Path, "nacos.tls.tlcp") {
		t.Errorf("nacos with tls.tlcp: %v, want one error at its tls.tlcp", es)
	}
}
