package tlcp

import (
	"crypto/cipher"
	"crypto/hmac"
	"hash"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// suite is one cipher suite: its key exchange and record protection.
type suite struct {
	id     uint16
	name   string
	ecdhe  bool // SM2 key exchange instead of SM2 encryption
	aead   bool // SM4-GCM instead of SM4-CBC with HMAC-SM3
	keyLen int
	macLen int
	ivLen  int // CBC: the IV of the key block; GCM: the implicit nonce
}

// suites in the default order of preference.
var suites = []*suite{
	{id: ECC_SM4_GCM_SM3, name: "ECC_SM4_GCM_SM3", aead: true, keyLen: 16, ivLen: 4},
	{id: ECC_SM4_CBC_SM3, name: "ECC_SM4_CBC_SM3", keyLen: 16, macLen: 32, ivLen: 16},
	{id: ECDHE_SM4_GCM_SM3, name: "ECDHE_SM4_GCM_SM3", ecdhe: true, aead: true, keyLen: 16, ivLen: 4},
	{id: ECDHE_SM4_CBC_SM3, name: "ECDHE_SM4_CBC_SM3", ecdhe: true, keyLen: 16, macLen: 32, ivLen: 16},
}

func suiteByID(id uint16) *suite {
	for _, s := range suites {
		if s.id == id {
			return s
		}
	}
	return nil
}

// recordCipher protects records in one direction.
type recordCipher interface{}

// cbcCipher is SM4-CBC with HMAC-SM3, MAC-then-encrypt with an explicit
// IV per record (GB/T 38636-2020, section 6.3.3.4.3, as TLS 1.1).
type cbcCipher struct {
	block cipher.Block
	mac   hash.Hash
}

// gcmCipher is SM4-GCM with a 4-byte implicit and an 8-byte explicit nonce
// (GB/T 38636-2020, section 6.3.3.4.4, as RFC 5288).
type gcmCipher struct {
	aead  cipher.AEAD
	nonce [12]byte // implicit part in [0:4]
}

func (s *suite) newCipher(key, mac, iv []byte) recordCipher {
	block, err := sm4.NewCipher(key)
	if err != nil {
		panic("tlcp: internal error: " + err.Error()) // key lengths are fixed
	}
	if s.aead {
		g, err := cipher.NewGCM(block)
		if err != nil {
			panic("tlcp: internal error: " + err.Error())
		}
		c := &gcmCipher{aead: g}
		copy(c.nonce[:4], iv)
		return c
	}
	return &cbcCipher{block: block, mac: hmac.New(sm3.New, mac)}
}

// prf is the PRF of GB/T 38636-2020, section 6.5.2: TLS 1.2's P_hash
// (RFC 5246, section 5) with SM3.
func prf(out, secret []byte, label string, seed ...[]byte) {
	h := hmac.New(sm3.New, secret)
	labelSeed := []byte(label)
	for _, s := range seed {
		labelSeed = append(labelSeed, s...)
	}
	h.Write(labelSeed)
	a := h.Sum(nil)
	for len(out) > 0 {
		h.Reset()
		h.Write(a)
		h.Write(labelSeed)
		b := h.Sum(nil)
		n := copy(out, b)
		out = out[n:]
		h.Reset()
		h.Write(a)
		a = h.Sum(a[:0])
	}
}

const (
	masterSecretLen = 48
	finishedLen     = 12
)

func masterSecret(pre, clientRandom, serverRandom []byte) []byte {
	out := make([]byte, masterSecretLen)
	prf(out, pre, "master secret", clientRandom, serverRandom)
	return out
}

// keys derives the key block (GB/T 38636-2020, section 6.5.3):
// client MAC, server MAC, client key, server key, client IV, server IV.
func (s *suite) keys(master, clientRandom, serverRandom []byte) (cMAC, sMAC, cKey, sKey, cIV, sIV []byte) {
	n := 2*s.macLen + 2*s.keyLen + 2*s.ivLen
	b := make([]byte, n)
	prf(b, master, "key expansion", serverRandom, clientRandom)
	cMAC, b = b[:s.macLen], b[s.macLen:]
	sMAC, b = b[:s.macLen], b[s.macLen:]
	cKey, b = b[:s.keyLen], b[s.keyLen:]
	sKey, b = b[:s.keyLen], b[s.keyLen:]
	cIV, b = b[:s.ivLen], b[s.ivLen:]
	sIV = b[:s.ivLen]
	return
}

// finishedHash is the running SM3 of the handshake messages.
type finishedHash struct{ h hash.Hash }

func newFinishedHash() finishedHash { return finishedHash{sm3.New()} }

func (f finishedHash) Write(b []byte) { f.h.Write(b) }

func (f finishedHash) sum() []byte { return f.h.Sum(nil) }

func (f finishedHash) verifyData(master []byte, label string) []byte {
	out := make([]byte, finishedLen)
	prf(out, master, label, f.sum())
	return out
}
