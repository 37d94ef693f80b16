package gm_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"strconv"
	"testing"

	"github.com/duohuo/duohuo/gm"
)

// Each benchmark runs the GM algorithm beside its usual international
// counterpart (SHA-256, AES-128-GCM, ECDSA P-256) in the same run, so that
// the figures are read as a ratio on the machine at hand.

func BenchmarkHash(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 64 << 10} {
		for _, h := range []struct {
			name string
			new  func() hash.Hash
		}{{"SM3", gm.NewSM3}, {"SHA-256", sha256.New}} {
			b.Run(h.name+"/"+sizeName(size), func(b *testing.B) {
				data := make([]byte, size)
				d := h.new()
				out := make([]byte, 0, 32)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					d.Reset()
					d.Write(data)
					out = d.Sum(out[:0])
				}
			})
		}
	}
}

func BenchmarkAEADSeal(b *testing.B) {
	key := make([]byte, 16)
	sm4gcm, _ := gm.NewSM4GCM(key)
	block, _ := aes.NewCipher(key)
	aesgcm, _ := cipher.NewGCM(block)
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, a := range []struct {
			name string
			aead cipher.AEAD
		}{{"SM4-GCM", sm4gcm}, {"AES-128-GCM", aesgcm}} {
			b.Run(a.name+"/"+sizeName(size), func(b *testing.B) {
				plain := make([]byte, size)
				nonce := make([]byte, a.aead.NonceSize())
				out := make([]byte, 0, size+a.aead.Overhead())
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					out = a.aead.Seal(out[:0], nonce, plain, nil)
				}
			})
		}
	}
}

func BenchmarkSign(b *testing.B) {
	msg := []byte("chain head 0123456789abcdef")
	b.Run("SM2", func(b *testing.B) {
		k, _ := gm.GenerateKey()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := k.Sign(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ECDSA-P256", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		digest := sha256.Sum256(msg)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, k, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	msg := []byte("chain head 0123456789abcdef")
	b.Run("SM2", func(b *testing.B) {
		k, _ := gm.GenerateKey()
		sig, _ := k.Sign(msg)
		pub := k.Public()
		b.ReportAllocs()
		for b.Loop() {
			if !pub.Verify(msg, sig) {
				b.Fatal("verify failed")
			}
		}
	})
	b.Run("ECDSA-P256", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		digest := sha256.Sum256(msg)
		sig, _ := ecdsa.SignASN1(rand.Reader, k, digest[:])
		b.ReportAllocs()
		for b.Loop() {
			if !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig) {
				b.Fatal("verify failed")
			}
		}
	})
}

func sizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	default:
		return strconv.Itoa(n) + "B"
	}
}
