package gm

import (
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
)

// PrivateKey is an SM2 private key. It is immutable and safe for concurrent
// use.
type PrivateKey struct{ k *sm2.PrivateKey }

// PublicKey is an SM2 public key. It is immutable and safe for concurrent
// use.
type PublicKey struct{ k *ecdsa.PublicKey }

// GenerateKey returns a new SM2 key pair drawn from crypto/rand.
func GenerateKey() (*PrivateKey, error) {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 generate key: %w", err)
	}
	return &PrivateKey{k}, nil
}

// ParsePrivateKey returns the key whose 32-byte big-endian scalar is b, as
// written by [PrivateKey.Bytes].
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	k, err := sm2.NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 private key: %w", err)
	}
	return &PrivateKey{k}, nil
}

// ParsePublicKey returns the key whose uncompressed point (0x04 ‖ X ‖ Y,
// 65 bytes) is b, as written by [PublicKey.Bytes].
func ParsePublicKey(b []byte) (*PublicKey, error) {
	k, err := sm2.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 public key: %w", err)
	}
	return &PublicKey{k}, nil
}

// Bytes returns the 32-byte big-endian private scalar. Keep it secret.
func (k *PrivateKey) Bytes() []byte {
	b := make([]byte, 32)
	return k.k.D.FillBytes(b)
}

// Public returns the public half of k.
func (k *PrivateKey) Public() *PublicKey { return &PublicKey{&k.k.PublicKey} }

// Unwrap returns the underlying gmsm key, for APIs (x509, TLCP) that need
// it. The caller must not modify it.
func (k *PrivateKey) Unwrap() *sm2.PrivateKey { return k.k }

// Sign returns the ASN.1 DER SM2 signature of msg, computed over
// SM3(Z_A ‖ msg) with the default user ID "1234567812345678" (GB/T
// 35276-2017, section 10). Signatures are randomised.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	sig, err := k.k.SignWithSM2(rand.Reader, nil, msg)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 sign: %w", err)
	}
	return sig, nil
}

// Bytes returns the uncompressed point 0x04 ‖ X ‖ Y (65 bytes).
func (p *PublicKey) Bytes() []byte {
	// crypto/ecdh encodes points without the deprecated big.Int fields.
	k, err := sm2.PublicKeyToECDH(p.k)
	if err != nil {
		// Unreachable: every PublicKey is built from a valid SM2 point.
		panic("gm: sm2 public key not on the curve: " + err.Error())
	}
	return k.Bytes()
}

// Verify reports whether sig is a valid SM2 signature of msg by p, with the
// default user ID, as produced by [PrivateKey.Sign].
func (p *PublicKey) Verify(msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(p.k, nil, msg, sig)
}

// Unwrap returns the underlying public key. The caller must not modify it.
func (p *PublicKey) Unwrap() *ecdsa.PublicKey { return p.k }
