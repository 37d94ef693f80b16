package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
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

// tlcpConnKey is the context key of a request's TLCP connection.
type tlcpConnKey struct{}

// tlcpConnContext remembers a TLCP connection in its requests' context;
// it is an http.Server's ConnContext.
func tlcpConnContext(ctx context.Context, c net.Conn) context.Context {
	switch tc := c.(type) {
	case *tlcp.Conn:
		return context.WithValue(ctx, tlcpConnKey{}, tc)
	case *tlcpFramingConn:
		return context.WithValue(ctx, tlcpConnKey{}, tc.tc)
	}
	return ctx
}

// gmListener checks the HTTP/1.x framing (framing.go) of the TLCP
// connections of a listener with a GM double certificate, inside their
// encryption: TLCP serves HTTP/1.1 only. The TLS connections of a port
// that serves both are handed to net/http as they are, so that it can
// pick h2 by ALPN: their HTTP/1.x framing is net/http's own check.
type gmListener struct {
	net.Listener
	maxHead int
	refused interface{ Inc() }
}

func (l *gmListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*tlcp.Conn); ok && err == nil {
		return &tlcpFramingConn{framingConn: newFramingConn(tc, l.maxHead, l.refused), tc: tc}, nil
	}
	return c, err
}

// tlcpFramingConn is a TLCP connection seen through the framing check.
type tlcpFramingConn struct {
	*framingConn
	tc *tlcp.Conn
}

// tlcpRequests gives requests that came over TLCP a Request.TLS, which
// net/http sets only for crypto/tls: what reads it (X-Forwarded-Proto,
// redirects to https) must see a secure connection. Version is TLCP's
// 0x0101 and CipherSuite the TLCP suite, so nothing mistakes it for TLS.
func tlcpRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tc, ok := r.Context().Value(tlcpConnKey{}).(*tlcp.Conn); ok && r.TLS == nil {
			st := tc.ConnectionState()
			r.TLS = &tls.ConnectionState{
				Version:            st.Version,
				HandshakeComplete:  st.HandshakeComplete,
				DidResume:          st.DidResume,
				CipherSuite:        st.CipherSuite,
				NegotiatedProtocol: st.NegotiatedProtocol,
				ServerName:         st.ServerName,
			}
		}
		h.ServeHTTP(w, r)
	})
}
