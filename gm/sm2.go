package gm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
)

// PrivateKey is an SM2 private key. It is immutable and safe for concurrent
// use.
type PrivateKey struct {
	k   *sm2.PrivateKey
	pub *PublicKey
}

// PublicKey is an SM2 public key. It is immutable and safe for concurrent
// use.
type PublicKey struct {
	k   *ecdsa.PublicKey
	raw []byte // 0x04 ‖ X ‖ Y, computed once when the key is made
}

// newPublicKey validates k (on the curve, not infinity) and encodes it.
func newPublicKey(k *ecdsa.PublicKey) (*PublicKey, error) {
	// crypto/ecdh checks the point and encodes it without the deprecated
	// big.Int fields.
	e, err := sm2.PublicKeyToECDH(k)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 public key: %w", err)
	}
	return &PublicKey{k: k, raw: e.Bytes()}, nil
}

func newPrivateKey(k *sm2.PrivateKey) (*PrivateKey, error) {
	pub, err := newPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{k: k, pub: pub}, nil
}

// GenerateKey returns a new SM2 key pair drawn from crypto/rand.
func GenerateKey() (*PrivateKey, error) {
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 generate key: %w", err)
	}
	return newPrivateKey(k)
}

// ParsePrivateKey returns the key whose 32-byte big-endian scalar is b, as
// written by [PrivateKey.Bytes].
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	k, err := sm2.NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 private key: %w", err)
	}
	return newPrivateKey(k)
}

// ParsePublicKey returns the key whose uncompressed point (0x04 ‖ X ‖ Y,
// 65 bytes) is b, as written by [PublicKey.Bytes]. Other encodings
// (compressed points) are refused.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	// gmsm v0.44.1 also takes compressed points, and was seen (by
	// FuzzParsePublicKey) to return a point that is not on the curve for
	// one; accept only the uncompressed form, and check the point again.
	if len(b) != 65 || b[0] != 4 {
		return nil, fmt.Errorf("gm: sm2 public key: %d bytes starting %#x, want 65 starting 0x04", len(b), first(b))
	}
	k, err := sm2.NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("gm: sm2 public key: %w", err)
	}
	return newPublicKey(k)
}

func first(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// Bytes returns the 32-byte big-endian private scalar. Keep it secret.
func (k *PrivateKey) Bytes() []byte {
	b := make([]byte, 32)
	return k.k.D.FillBytes(b)
}

// Public returns the public half of k.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

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
func (p *PublicKey) Bytes() []byte { return bytes.Clone(p.raw) }

// Verify reports whether sig is a valid SM2 signature of msg by p, with the
// default user ID, as produced by [PrivateKey.Sign].
func (p *PublicKey) Verify(msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(p.k, nil, msg, sig)
}

// Unwrap returns the underlying public key. The caller must not modify it.
func (p *PublicKey) Unwrap() *ecdsa.PublicKey { return p.k }
