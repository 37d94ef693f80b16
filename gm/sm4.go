package gm

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm4"
)

// SM4KeySize is the size of an SM4 key in bytes.
const SM4KeySize = 16

// ErrOpen is returned by [OpenSM4GCM] when the sealed data is too short or
// fails authentication (wrong key, wrong additional data, or tampering).
var ErrOpen = errors.New("gm: sm4-gcm: message authentication failed")

// NewSM4GCM returns SM4 in Galois/Counter Mode with the standard 12-byte
// nonce and 16-byte tag (RFC 8998, AEAD_SM4_GCM). key must be 16 bytes.
// The AEAD is safe for concurrent use.
func NewSM4GCM(key []byte) (cipher.AEAD, error) {
	if len(key) != SM4KeySize {
		return nil, fmt.Errorf("gm: sm4 key is %d bytes, want %d", len(key), SM4KeySize)
	}
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("gm: sm4: %w", err)
	}
	return cipher.NewGCM(block)
}

// SealSM4GCM encrypts and authenticates plaintext, and authenticates
// additional (which may be nil), under a 16-byte key. It draws a random
// nonce from crypto/rand and returns nonce ‖ ciphertext ‖ tag, which
// [OpenSM4GCM] reverses. With random nonces, seal at most 2^32 messages
// under one key (NIST SP 800-38D, section 8.3).
func SealSM4GCM(key, plaintext, additional []byte) ([]byte, error) {
	aead, err := NewSM4GCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("gm: sm4-gcm nonce: %w", err)
	}
	return aead.Seal(out, out, plaintext, additional), nil
}

// OpenSM4GCM reverses [SealSM4GCM]. It returns [ErrOpen] when sealed was
// not produced by SealSM4GCM with the same key and additional data.
func OpenSM4GCM(key, sealed, additional []byte) ([]byte, error) {
	aead, err := NewSM4GCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
