package config

import (
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

// TestCryptoSuitesGMWarnsAboutUpstreams: TLCP upstreams do not exist, so
// gm with upstream.tls is valid but says so.
func TestCryptoSuitesGMWarnsAboutUpstreams(t *testing.T) {
	text := "crypto:\n  suites: gm\n" + service + "    upstream:\n      tls: true\n"
	cfg, err := parse("t.yaml", []byte(text), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || cfg.Warnings[0].Path != "services[0].upstream.tls" || !strings.Contains(cfg.Warnings[0].Msg, "no TLCP upstreams") {
		t.Errorf("warnings %v, want one at services[0].upstream.tls about TLCP upstreams", cfg.Warnings)
	}
	cfg, err = parse("t.yaml", []byte("crypto:\n  suites: auto\n"+service+"    upstream:\n      tls: true\n"), testEnv)
	if err != nil || len(cfg.Warnings) != 0 {
		t.Errorf("auto with upstream.tls: %v, warnings %v; want none", err, cfg.Warnings)
	}
}
