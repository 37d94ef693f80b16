package gm_test

import (
	"testing"

	"github.com/duohuo/duohuo/gm"
)

// BenchmarkKeyRing seals and opens blobs of a few sizes with a ring of two
// keys (the active one seals), into buffers with room: the cost per record
// of the replica's and the audit log's encryption at rest, nonce included.
func BenchmarkKeyRing(b *testing.B) {
	ring, _ := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f\n2:f0e0d0c0b0a090807060504030201000")
	place := []byte("objects/kv")
	for _, size := range []int{64, 1 << 10, 16 << 10} {
		plain := make([]byte, size)
		sealed, _ := ring.Seal(nil, plain, place)
		b.Run("Seal/"+sizeName(size), func(b *testing.B) {
			out := make([]byte, 0, size+gm.SealOverhead)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				out, _ = ring.Seal(out[:0], plain, place)
			}
		})
		b.Run("Open/"+sizeName(size), func(b *testing.B) {
			out := make([]byte, 0, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if out, err = ring.Open(out[:0], sealed, place); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
