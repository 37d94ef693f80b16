package tlcp

import (
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// parseCertificates parses the peer's certificates, signing one first.
func parseCertificates(raw [][]byte) ([]*smx509.Certificate, error) {
	certs := make([]*smx509.Certificate, len(raw))
	for i, der := range raw {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("tlcp: peer certificate %d: %w", i, err)
		}
		certs[i] = c
	}
	return certs, nil
}

// verifyPeer verifies the signing certificate (certs[0], for usage and,
// when name is set, the host name) and the encryption certificate (certs[1]
// when present) against roots, with the rest as intermediates. It returns
// the signing certificate's chains.
func verifyPeer(cfg *Config, certs []*smx509.Certificate, roots *smx509.CertPool, name string, usage smx509.ExtKeyUsage) ([][]*smx509.Certificate, error) {
	if roots == nil {
		roots = smx509.NewCertPool() // never the system's roots
	}
	inter := smx509.NewCertPool()
	for _, c := range certs[min(2, len(certs)):] {
		inter.AddCert(c)
	}
	opts := smx509.VerifyOptions{
		DNSName:       name,
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   cfg.now(),
		KeyUsages:     []smx509.ExtKeyUsage{usage},
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return nil, certError("signing", err)
	}
	if len(certs) > 1 {
		opts.DNSName = ""
		// Encryption certificates are often issued without an extended
		// key usage, or with one of their own; their CA is what counts.
		opts.KeyUsages = []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}
		if _, err := certs[1].Verify(opts); err != nil {
			return nil, certError("encryption", err)
		}
	}
	return chains, nil
}

func certError(which string, err error) error {
	var ua smx509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return fmt.Errorf("%w: %s certificate: %v", ErrUnknownAuthority, which, err)
	}
	return fmt.Errorf("tlcp: %s certificate: %w", which, err)
}

// alertFor is the alert that reports a certificate error.
func alertFor(err error) alert {
	if errors.Is(err, ErrUnknownAuthority) {
		return alertUnknownCA
	}
	var inv smx509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == smx509.Expired {
		return alertCertificateExpired
	}
	return alertBadCertificate
}

func checkSM2Keys(certs []*smx509.Certificate) error {
	for i, c := range certs[:min(2, len(certs))] {
		if !sm2.IsSM2PublicKey(c.PublicKey) {
			return fmt.Errorf("tlcp: peer certificate %d has a %T key, TLCP needs SM2", i, c.PublicKey)
		}
	}
	return nil
}
