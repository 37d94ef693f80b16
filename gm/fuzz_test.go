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

// FuzzKeyRingOpen: opening arbitrary bytes never panics and fails only with
// ErrSealedFormat, ErrUnknownKey or ErrOpen, leaving dst as it was; a blob
// that opens was sealed for that place; and flipping any bit of a sealed
// blob is caught.
func FuzzKeyRingOpen(f *testing.F) {
	ring, _ := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f\n2:f0e0d0c0b0a090807060504030201000")
	sealed, _ := ring.Seal(nil, []byte("payload"), []byte("objects/kv"))
	f.Add(sealed, []byte("objects/kv"), uint(0))
	f.Add(sealed[:gm.SealOverhead], []byte(nil), uint(9))
	f.Add([]byte{1, 0}, []byte("log/1"), uint(3))
	f.Add([]byte{1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{}, uint(17))
	f.Fuzz(func(t *testing.T, data, place []byte, bit uint) {
		dst := []byte("dst")
		out, err := ring.Open(dst, data, place)
		switch {
		case err == nil:
			if !bytes.Equal(place, []byte("objects/kv")) {
				t.Fatalf("Open(%x) opened for place %q", data, place)
			}
		case errors.Is(err, gm.ErrSealedFormat), errors.Is(err, gm.ErrUnknownKey), errors.Is(err, gm.ErrOpen):
			if string(out) != "dst" {
				t.Fatalf("Open failed with %v and returned %q, want dst unchanged", err, out)
			}
		default:
			t.Fatalf("Open(%x) = %v, want one of the documented errors", data, err)
		}
		flipped := bytes.Clone(sealed)
		flipped[(bit/8)%uint(len(flipped))] ^= 1 << (bit % 8)
		if _, err := ring.Open(nil, flipped, []byte("objects/kv")); err == nil {
			t.Fatalf("Open with bit %d flipped succeeded", bit)
		}
	})
}

// FuzzParseKeyRing: any text either is refused with an error that quotes no
// key, or gives a ring whose active key seals blobs that it opens.
func FuzzParseKeyRing(f *testing.F) {
	f.Add("1:000102030405060708090a0b0c0d0e0f")
	f.Add("# ring\n1:000102030405060708090a0b0c0d0e0f\n2:MDEyMzQ1Njc4OWFiY2RlZg==\nactive:1\n")
	f.Add("1:MDEyMzQ1Njc4OWFiY2RlZg,2:000102030405060708090a0b0c0d0e0f")
	f.Add("active:")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := gm.ParseKeyRing(text)
		if err != nil {
			return
		}
		sealed, err := r.Seal(nil, []byte("x"), []byte("p"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.Open(nil, sealed, []byte("p")); err != nil || string(got) != "x" {
			t.Fatalf("a ring parsed from %q does not open its own blob: %q, %v", text, got, err)
		}
	})
}
