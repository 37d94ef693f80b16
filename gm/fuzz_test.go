package gm_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/duohuo/duohuo/gm"
)

// FuzzParsePublicKey: any input either fails cleanly or is a point whose
// encoding round-trips.
func FuzzParsePublicKey(f *testing.F) {
	k, _ := gm.GenerateKey()
	f.Add(k.Public().Bytes())
	f.Add([]byte{4})
	f.Add(make([]byte, 65))
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := gm.ParsePublicKey(b)
		if err != nil {
			return
		}
		if got := pub.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("ParsePublicKey(%x).Bytes() = %x", b, got)
		}
	})
}

// FuzzOpenSM4GCM: opening arbitrary bytes never panics and fails only with
// ErrOpen, and flipping any bit of a sealed message is caught.
func FuzzOpenSM4GCM(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 16)
	sealed, _ := gm.SealSM4GCM(key, []byte("payload"), []byte("aad"))
	f.Add(sealed, uint(0))
	f.Add([]byte{}, uint(3))
	f.Fuzz(func(t *testing.T, data []byte, bit uint) {
		if _, err := gm.OpenSM4GCM(key, data, []byte("aad")); err != nil && !errors.Is(err, gm.ErrOpen) {
			t.Fatalf("OpenSM4GCM(%x) = %v, want nil or ErrOpen", data, err)
		}
		flipped := bytes.Clone(sealed)
		flipped[(bit/8)%uint(len(flipped))] ^= 1 << (bit % 8)
		if _, err := gm.OpenSM4GCM(key, flipped, []byte("aad")); !errors.Is(err, gm.ErrOpen) {
			t.Fatalf("OpenSM4GCM with bit %d flipped = %v, want ErrOpen", bit, err)
		}
	})
}
