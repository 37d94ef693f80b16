// Package gmcert makes SM2 certificates for TLCP (GB/T 38636-2020): a CA,
// and for each host a signing and an encryption certificate, the "double
// certificate" TLCP servers present, like mkcert does for TLS. The CA's key
// signs with SM2-with-SM3; every key is SM2.
//
// Usage:
//
//	ca, err := gmcert.NewCA("duohuo dev CA", 10*365*24*time.Hour)
//	pair, err := ca.Issue(gmcert.Request{Hosts: []string{"localhost", "127.0.0.1"}})
//	sign, err := tlcp.X509KeyPair(pair.Sign.CertPEM, pair.Sign.KeyPEM)
//
// These certificates are for development, tests and private deployments;
// a 密评 (GB/T 39786) assessment expects certificates from a licensed CA.
package gmcert

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// CA is an SM2 certificate authority. It is safe for concurrent use.
type CA struct {
	Cert *smx509.Certificate
	Key  *sm2.PrivateKey
	// CertPEM and KeyPEM are Cert and Key in PEM (the key in PKCS #8).
	CertPEM, KeyPEM []byte
}

// KeyPair is one certificate with its key, parsed and in PEM.
type KeyPair struct {
	Cert            *smx509.Certificate
	Key             *sm2.PrivateKey
	CertPEM, KeyPEM []byte // the key in PKCS #8
}

// Pair is a host's double certificate: Sign authenticates it (ServerKey
// Exchange, CertificateVerify), Enc receives the pre-master secret or runs
// the SM2 key exchange.
type Pair struct {
	Sign, Enc KeyPair
}

// Request says what to issue.
type Request struct {
	// Hosts are the DNS names and IP addresses of the signing certificate;
	// the first is also its common name. At least one is needed.
	Hosts []string
	// Client makes certificates for a TLCP client (client authentication)
	// instead of a server.
	Client bool
	// Validity is how long the certificates are valid from now; 0 means
	// 825 days, the longest browsers accept for TLS leaves.
	Validity time.Duration
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA makes a self-signed SM2 CA named name, valid for validity.
func NewCA(name string, validity time.Duration) (*CA, error) {
	if name == "" || validity <= 0 {
		return nil, errors.New("gmcert: a CA needs a name and a positive validity")
	}
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("gmcert: generate CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &smx509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"duohuo"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("gmcert: create CA certificate: %w", err)
	}
	kp, err := keyPair(der, key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: kp.Cert, Key: key, CertPEM: kp.CertPEM, KeyPEM: kp.KeyPEM}, nil
}

// LoadCA parses a CA written by NewCA (or any SM2 CA certificate and its
// PKCS #8 or SEC 1 key).
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("gmcert: no CERTIFICATE block in the CA certificate")
	}
	cert, err := smx509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("gmcert: CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("gmcert: the CA certificate is not a CA (basic constraints)")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("gmcert: no PEM block in the CA key")
	}
	var key *sm2.PrivateKey
	if k, err := smx509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		key, _ = k.(*sm2.PrivateKey)
	} else if k, err := smx509.ParseSM2PrivateKey(kb.Bytes); err == nil {
		key = k
	}
	if key == nil {
		return nil, errors.New("gmcert: the CA key is not an SM2 private key")
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("gmcert: the CA key does not match the CA certificate")
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// Issue makes a signing and an encryption certificate for r.Hosts. Key
// usages follow GB/T 38636-2020 practice: the signing certificate has
// digitalSignature and nonRepudiation, the encryption certificate
// keyEncipherment, dataEncipherment and keyAgreement.
func (ca *CA) Issue(r Request) (*Pair, error) {
	if len(r.Hosts) == 0 {
		return nil, errors.New("gmcert: Issue needs at least one host")
	}
	validity := r.Validity
	if validity <= 0 {
		validity = 825 * 24 * time.Hour
	}
	eku := smx509.ExtKeyUsageServerAuth
	if r.Client {
		eku = smx509.ExtKeyUsageClientAuth
	}
	var p Pair
	for i, usage := range []smx509.KeyUsage{
		smx509.KeyUsageDigitalSignature | smx509.KeyUsageContentCommitment,
		smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment | smx509.KeyUsageKeyAgreement,
	} {
		key, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("gmcert: generate key: %w", err)
		}
		sn, err := serial()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		role := "sign"
		if i == 1 {
			role = "enc"
		}
		tmpl := &smx509.Certificate{
			SerialNumber: sn,
			Subject:      pkix.Name{CommonName: r.Hosts[0], OrganizationalUnit: []string{role}, Organization: []string{"duohuo"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(validity),
			KeyUsage:     usage,
			ExtKeyUsage:  []smx509.ExtKeyUsage{eku},
		}
		for _, h := range r.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
		if err != nil {
			return nil, fmt.Errorf("gmcert: create %s certificate: %w", role, err)
		}
		kp, err := keyPair(der, key)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			p.Sign = *kp
		} else {
			p.Enc = *kp
		}
	}
	return &p, nil
}

func keyPair(der []byte, key *sm2.PrivateKey) (*KeyPair, error) {
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("gmcert: parse new certificate: %w", err)
	}
	k8, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("gmcert: encode key: %w", err)
	}
	return &KeyPair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}),
	}, nil
}
