package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/duohuo/duohuo/gm/tlcp"
	"github.com/duohuo/duohuo/internal/config"
)

// upstreamTLCP returns the dialer of a service's TLCP connections to its
// instances, from upstream.tls with tlcp: the SM2 CA of ca_file, the
// server name, and the gateway's own double certificate when one is given.
// Sessions are resumed per instance (a cache of 1,024), as crypto/tls's
// clients in net/http are not but a TLCP full handshake costs two SM2
// operations more than a resumed one.
func upstreamTLCP(t *config.UpstreamTLS) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	cfg := &tlcp.Config{
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tlcp.NewLRUClientSessionCache(1024),
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		cfg.RootCAs = smx509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no certificate that parses", t.CAFile)
		}
	} else if !t.InsecureSkipVerify {
		// TLCP certificates are not in the system's roots: without a CA
		// every instance would be refused. Say so at start, not per
		// request.
		return nil, fmt.Errorf("ca_file: is required with tlcp (the SM2 CA of the instances' certificates), unless insecure_skip_verify")
	}
	if t.SignCertFile != "" {
		sign, err := tlcp.LoadX509KeyPair(t.SignCertFile, t.SignKeyFile)
		if err != nil {
			return nil, fmt.Errorf("sign_cert_file: %w", err)
		}
		cfg.Certificates = append(cfg.Certificates, sign)
		if t.EncCertFile != "" {
			enc, err := tlcp.LoadX509KeyPair(t.EncCertFile, t.EncKeyFile)
			if err != nil {
				return nil, fmt.Errorf("enc_cert_file: %w", err)
			}
			cfg.Certificates = append(cfg.Certificates, enc)
		}
	}
	// The net.Dialer carries no timeout: proxy.Transport bounds the dial
	// and the handshake together through ctx.
	d := &tlcp.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: cfg}
	return d.DialContext, nil
}
