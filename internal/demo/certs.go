package demo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/duohuo/duohuo/gm/gmcert"
)

// GMCAFile is the file, in the directory of [WriteCerts], of the SM2 CA
// that TLCP clients of the secure listener trust.
const GMCAFile = "gm-ca.crt"

// demoCertTTL is the validity of the demo's certificates.
const demoCertTTL = 30 * 24 * time.Hour

// WriteCerts writes, in dir, the certificates of the demo's secure
// listener: a self-signed TLS certificate and an SM2 CA with a TLCP double
// certificate, for 127.0.0.1 and localhost. Keys are written with mode
// 0600.
func WriteCerts(dir string) error {
	write := func(name string, data []byte, mode os.FileMode) error {
		return os.WriteFile(filepath.Join(dir, name), data, mode)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "duohuo demo"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(demoCertTTL),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return fmt.Errorf("demo TLS certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	ca, err := gmcert.NewCA("duohuo demo GM CA", demoCertTTL)
	if err != nil {
		return err
	}
	pair, err := ca.Issue(gmcert.Request{Hosts: []string{"127.0.0.1", "localhost", "::1"}, Validity: demoCertTTL})
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		// The names the secure listener of configTemplate reads.
		{"tls.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644},
		{"tls.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600},
		{GMCAFile, ca.CertPEM, 0o644},
		{"gm-sign.crt", pair.Sign.CertPEM, 0o644}, {"gm-sign.key", pair.Sign.KeyPEM, 0o600},
		{"gm-enc.crt", pair.Enc.CertPEM, 0o644}, {"gm-enc.key", pair.Enc.KeyPEM, 0o600},
	} {
		if err := write(f.name, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
