package tlcp

import (
	"context"
	"crypto"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Server returns the server side of a TLCP connection over conn. config
// must hold the signing and encryption certificates and must not be nil.
func Server(conn net.Conn, config *Config) *Conn {
	return &Conn{conn: conn, config: config}
}

// Client returns the client side of a TLCP connection over conn. config
// must set ServerName or InsecureSkipVerify and must not be nil.
func Client(conn net.Conn, config *Config) *Conn {
	return &Conn{conn: conn, config: config, isClient: true}
}

type listener struct {
	net.Listener
	config *Config
}

// Accept waits for a connection and returns it as a *Conn whose handshake
// runs on its first Read or Write.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(c, l.config), nil
}

// NewListener returns a listener whose connections are the server side of
// TLCP over inner's connections.
func NewListener(inner net.Listener, config *Config) net.Listener {
	return &listener{Listener: inner, config: config}
}

// Listen listens on network and address (as net.Listen) and serves TLCP
// with config, which must hold the signing and encryption certificates.
func Listen(network, address string, config *Config) (net.Listener, error) {
	if config == nil || len(config.Certificates) < 2 {
		return nil, errors.New("tlcp: Listen needs a Config with a signing and an encryption certificate")
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return NewListener(l, config), nil
}

// Dialer dials TLCP connections; the zero value is usable with a Config.
type Dialer struct {
	// NetDialer dials the TCP connection; nil means a zero net.Dialer.
	NetDialer *net.Dialer
	// Config is the client's configuration; nil means the zero Config.
	// Without ServerName, the host of the address dialled is used.
	Config *Config
}

// DialContext connects and completes the handshake, both bounded by ctx.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := d.NetDialer
	if nd == nil {
		nd = new(net.Dialer)
	}
	if nd.Timeout != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, nd.Timeout)
		defer cancel()
	}
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.Config
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.ServerName == "" {
		host := addr
		if i := strings.LastIndex(addr, ":"); i >= 0 {
			host = addr[:i]
		}
		host = strings.Trim(host, "[]")
		c := cfg.Clone() // shares the ClientSessionCache, as wanted
		c.ServerName = host
		cfg = c
	}
	conn := Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// Dial connects to addr and completes the handshake.
func Dial(network, addr string, config *Config) (*Conn, error) {
	c, err := (&Dialer{Config: config}).DialContext(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	return c.(*Conn), nil
}

// X509KeyPair parses a certificate chain and its SM2 private key from PEM:
// the key may be PKCS #8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or
// "SM2 PRIVATE KEY", and must match the leaf.
func X509KeyPair(certPEM, keyPEM []byte) (Certificate, error) {
	var cert Certificate
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			cert.Certificate = append(cert.Certificate, b.Bytes)
		}
	}
	if len(cert.Certificate) == 0 {
		return Certificate{}, errors.New("tlcp: no CERTIFICATE block in the certificate PEM")
	}
	var keyDER []byte
	for rest := keyPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY") {
			keyDER = b.Bytes
			break
		}
	}
	if keyDER == nil {
		return Certificate{}, errors.New("tlcp: no PRIVATE KEY block in the key PEM")
	}
	key, err := parseSM2PrivateKey(keyDER)
	if err != nil {
		return Certificate{}, err
	}
	leaf, err := smx509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return Certificate{}, fmt.Errorf("tlcp: certificate: %w", err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return Certificate{}, errors.New("tlcp: the private key does not match the certificate")
	}
	cert.PrivateKey = key
	cert.Leaf = leaf
	return cert, nil
}

func parseSM2PrivateKey(der []byte) (*sm2.PrivateKey, error) {
	if k, err := smx509.ParsePKCS8PrivateKey(der); err == nil {
		if sk, ok := k.(*sm2.PrivateKey); ok {
			return sk, nil
		}
		return nil, fmt.Errorf("tlcp: private key is %T, want SM2", k)
	}
	k, err := smx509.ParseSM2PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("tlcp: private key is neither PKCS #8 nor SEC 1 SM2: %w", err)
	}
	return k, nil
}

// LoadX509KeyPair reads a certificate chain and its key from PEM files, as
// [X509KeyPair].
func LoadX509KeyPair(certFile, keyFile string) (Certificate, error) {
	c, err := os.ReadFile(certFile)
	if err != nil {
		return Certificate{}, err
	}
	k, err := os.ReadFile(keyFile)
	if err != nil {
		return Certificate{}, err
	}
	cert, err := X509KeyPair(c, k)
	if err != nil {
		return Certificate{}, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}
