package gm

import (
	"crypto/hmac"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// SM3Size is the size of an SM3 digest in bytes.
const SM3Size = sm3.Size

// SM3 returns the SM3 digest of data. It is safe for concurrent use.
func SM3(data []byte) [SM3Size]byte { return sm3.Sum(data) }

// NewSM3 returns a new streaming SM3 hash.Hash. The hash is not safe for
// concurrent use; each goroutine needs its own.
func NewSM3() hash.Hash { return sm3.New() }

// HMACSM3 returns the HMAC (RFC 2104) of data under key with SM3 as the
// hash. It is safe for concurrent use.
func HMACSM3(key, data []byte) [SM3Size]byte {
	m := hmac.New(sm3.New, key)
	m.Write(data)
	var out [SM3Size]byte
	m.Sum(out[:0])
	return out
}
