package config

import "fmt"

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
	if suites != "gm" {
		return
	}
	for i, s := range cfg.Services {
		if s.Upstream.TLS != nil {
			c.warnf(fmt.Sprintf("services[%d].upstream.tls", i), "crypto.suites is gm, but connections to instances speak TLS 1.2/1.3: duohuo has no TLCP upstreams yet")
		}
	}
}
