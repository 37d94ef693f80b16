package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/duohuo/duohuo/gm/tlcp"
	"github.com/duohuo/duohuo/internal/config"
)

// secureListener wraps ln in what lc.tls asks for, crypto.suites having
// been checked by the config package: TLS 1.2/1.3 (h2 and HTTP/1.1 by
// ALPN) with cert_file, TLCP with the double certificate (HTTP/1.1 only:
// net/http speaks h2 over crypto/tls alone), both on one port when both
// are given. A listener without tls is returned as it is.
func secureListener(ln net.Listener, lc config.Listener, suites string) (net.Listener, error) {
	t := lc.TLS
	if t == nil {
		return ln, nil
	}
	var tlsCfg *tls.Config
	if t.International() && suites != "gm" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		tlsCfg = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		}
	}
	var gmCfg *tlcp.Config
	if t.GM() && suites != "international" {
		sign, err := tlcp.LoadX509KeyPair(t.SignCertFile, t.SignKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.sign_cert_file: %w", err)
		}
		enc, err := tlcp.LoadX509KeyPair(t.EncCertFile, t.EncKeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.enc_cert_file: %w", err)
		}
		gmCfg = &tlcp.Config{
			Certificates: []tlcp.Certificate{sign, enc},
			NextProtos:   []string{"http/1.1"},
		}
	}
	switch {
	case tlsCfg != nil && gmCfg != nil:
		// A client that sends nothing is dropped after the time it
		// would have had to send its headers (10s when that is 0).
		hello := time.Duration(lc.ReadHeaderTimeout)
		return tlcp.NewDualListener(ln, tlcp.DualConfig{TLCP: gmCfg, TLS: tlsCfg, HelloTimeout: hello})
	case gmCfg != nil:
		return tlcp.NewListener(ln, gmCfg), nil
	case tlsCfg != nil:
		return tls.NewListener(ln, tlsCfg), nil
	}
	return nil, fmt.Errorf("tls: no certificate for crypto.suites %s", suites)
}
