package config

import (
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// GM reports whether t has a TLCP double certificate (any of its files).
func (t *TLS) GM() bool {
	return t.SignCertFile != "" || t.SignKeyFile != "" || t.EncCertFile != "" || t.EncKeyFile != ""
}

// International reports whether t has a TLS 1.2/1.3 certificate.
func (t *TLS) International() bool { return t.CertFile != "" || t.KeyFile != "" }

func (t *TLS) validate(c *checker, path string) {
	pair := func(a, aKey, b, bKey string) {
		if a != "" && b == "" {
			c.errorf(join(path, bKey), "is required with %s", aKey)
		}
		if b != "" && a == "" {
			c.errorf(join(path, aKey), "is required with %s", bKey)
		}
	}
	pair(t.CertFile, "cert_file", t.KeyFile, "key_file")
	if t.GM() {
		for _, f := range []struct{ v, key string }{
			{t.SignCertFile, "sign_cert_file"}, {t.SignKeyFile, "sign_key_file"},
			{t.EncCertFile, "enc_cert_file"}, {t.EncKeyFile, "enc_key_file"},
		} {
			if f.v == "" {
				c.errorf(join(path, f.key), "is required: a TLCP server needs a signing and an encryption certificate with their keys")
			}
		}
	}
	if !t.GM() && !t.International() {
		c.errorf(path, "needs cert_file and key_file (TLS), or sign_cert_file, sign_key_file, enc_cert_file and enc_key_file (TLCP), or both")
	}
}

// validateCrypto checks the listeners' certificates against crypto.suites.
func (cfg *Config) validateCrypto(c *checker) {
	suites := cfg.Crypto.Suites
	for i, l := range cfg.Listeners {
		t := l.TLS
		if t == nil {
			continue
		}
		p := fmt.Sprintf("listeners[%d].tls", i)
		switch {
		case suites == "gm" && !t.GM():
			c.errorf(p, "crypto.suites is gm: a TLS listener needs sign_cert_file, sign_key_file, enc_cert_file and enc_key_file")
		case suites == "gm" && t.International():
			c.errorf(join(p, "cert_file"), "crypto.suites is gm, so listeners serve only TLCP: remove cert_file and key_file, or set crypto.suites to auto to serve TLS too")
		case suites == "international" && !t.International():
			c.errorf(p, "crypto.suites is international: a TLS listener needs cert_file and key_file")
		case suites == "international" && t.GM():
			c.errorf(join(p, "sign_cert_file"), "crypto.suites is international, so listeners serve only TLS: remove the sign_ and enc_ files, or set crypto.suites to auto to serve TLCP too")
		}
	}
	for i, s := range cfg.Services {
		t := s.Upstream.TLS
		if t == nil {
			continue
		}
		p := fmt.Sprintf("services[%d].upstream.tls", i)
		switch {
		case suites == "gm" && !t.TLCP:
			c.errorf(p, "crypto.suites is gm, so connections to instances speak only TLCP: set tlcp: true (and ca_file to the SM2 CA of the instances), or set crypto.suites to auto")
		case suites == "international" && t.TLCP:
			c.errorf(join(p, "tlcp"), "crypto.suites is international, so connections to instances speak only TLS: remove tlcp, or set crypto.suites to auto")
		}
		if !t.TLCP {
			continue
		}
		if proto := s.Upstream.Protocol; proto == "h2" || proto == "h2c" {
			c.errorf(fmt.Sprintf("services[%d].upstream.protocol", i), "%s cannot run over TLCP, which carries HTTP/1.1 here: use http1 or auto", proto)
		}
		if s.Health.Active.Type == "grpc" {
			c.errorf(fmt.Sprintf("services[%d].health.active.type", i), "grpc health checks need HTTP/2, which TLCP upstreams do not carry: use http or tcp")
		}
	}
}

// validateGM checks the TLCP side of an upstream's tls: the files exist and
// hold PEM of the right kind. The certificates are parsed by the gateway
// (package gm/tlcp), which this package does not link.
func (t *UpstreamTLS) validateGM(c *checker, path string, abs func(string) string) {
	if !t.TLCP {
		c.errorf(join(path, "tlcp"), "is required with sign_cert_file, sign_key_file, enc_cert_file and enc_key_file: they are a TLCP double certificate")
		return
	}
	if t.CertFile != "" || t.KeyFile != "" {
		c.errorf(join(path, "cert_file"), "is a TLS client certificate, which TLCP does not use: give sign_cert_file and sign_key_file (and the enc_ files) instead")
		return
	}
	pairs := []struct{ cert, certKey, key, keyKey string }{
		{t.SignCertFile, "sign_cert_file", t.SignKeyFile, "sign_key_file"},
		{t.EncCertFile, "enc_cert_file", t.EncKeyFile, "enc_key_file"},
	}
	for _, pr := range pairs {
		switch {
		case pr.cert != "" && pr.key == "":
			c.errorf(join(path, pr.keyKey), "is required with %s", pr.certKey)
			return
		case pr.key != "" && pr.cert == "":
			c.errorf(join(path, pr.certKey), "is required with %s", pr.keyKey)
			return
		}
	}
	if t.CAFile == "" && !t.InsecureSkipVerify {
		c.errorf(join(path, "ca_file"), "is required with tlcp: the SM2 CA that signed the instances' certificates (TLCP certificates are not in the system's roots)")
		return
	}
	if t.EncCertFile != "" && t.SignCertFile == "" {
		c.errorf(join(path, "sign_cert_file"), "is required with enc_cert_file: a TLCP client authenticates with its signing certificate")
		return
	}
	files := []struct{ v, key, block string }{
		{t.CAFile, "ca_file", "CERTIFICATE"},
		{t.SignCertFile, "sign_cert_file", "CERTIFICATE"},
		{t.SignKeyFile, "sign_key_file", "PRIVATE KEY"},
		{t.EncCertFile, "enc_cert_file", "CERTIFICATE"},
		{t.EncKeyFile, "enc_key_file", "PRIVATE KEY"},
	}
	for _, f := range files {
		if f.v == "" {
			continue
		}
		b, err := os.ReadFile(abs(f.v))
		if err != nil {
			c.errorf(join(path, f.key), "%v", err)
			continue
		}
		if !hasPEM(b, f.block) {
			c.errorf(join(path, f.key), "%s holds no PEM %s", abs(f.v), strings.ToLower(f.block))
		}
	}
}

// hasPEM reports whether b holds a PEM block whose type ends with kind
// ("PRIVATE KEY" takes "EC PRIVATE KEY" and "SM2 PRIVATE KEY" too).
func hasPEM(b []byte, kind string) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if strings.HasSuffix(blk.Type, kind) {
			return true
		}
	}
}
