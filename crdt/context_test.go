package crdt_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

// randomContext returns a context of up to 3 replicas and counters up to 8,
// with dots added in random order so that some stay in the cloud.
func randomContext(rng *rand.Rand) *crdt.CausalContext {
	var c crdt.CausalContext
	for range rng.IntN(12) {
		c.Add(crdt.Dot{Replica: crdt.ReplicaID(1 + rng.IntN(3)), Counter: uint64(1 + rng.IntN(8))})
	}
	return &c
}

// includesByDot is Includes by brute force over every dot that can occur.
func includesByDot(c, o *crdt.CausalContext) bool {
	for r := crdt.ReplicaID(1); r <= 3; r++ {
		for n := uint64(1); n <= 8; n++ {
			d := crdt.Dot{Replica: r, Counter: n}
			if o.Contains(d) && !c.Contains(d) {
				return false
			}
		}
	}
	return true
}

func TestCausalContextIncludes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		a, b := randomContext(rng), randomContext(rng)
		if got, want := a.Includes(b), includesByDot(a, b); got != want {
			t.Fatalf("case %d: Includes = %v, want %v\n  a %v %v\n  b %v %v", i, got, want, a.VersionVector(), a.Cloud(), b.VersionVector(), b.Cloud())
		}
		m := a.Clone()
		m.Merge(b)
		if !m.Includes(a) || !m.Includes(b) {
			t.Fatalf("case %d: a merge does not include its inputs", i)
		}
	}
}

func TestCausalContextEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		c := randomContext(rng)
		b, _ := c.MarshalBinary()
		var got crdt.CausalContext
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("UnmarshalBinary(%x) = %v", b, err)
		}
		if !got.Equal(c) {
			t.Fatalf("round trip: %v %v, want %v %v", got.VersionVector(), got.Cloud(), c.VersionVector(), c.Cloud())
		}
	}
	m := crdt.NewORMap()
	m.Put(7, 1, "k", []byte("v"))
	enc, _ := m.MarshalBinary()
	var c crdt.CausalContext
	if err := c.UnmarshalBinary(enc); !errors.Is(err, crdt.ErrKind) {
		t.Fatalf("UnmarshalBinary(an ORMap) = %v, want ErrKind", err)
	}
}

func FuzzDecodeContext(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 32 {
		b, _ := randomContext(rng).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c crdt.CausalContext
		if err := c.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, crdt.ErrMalformed) && !errors.Is(err, crdt.ErrTooLarge) && !errors.Is(err, crdt.ErrVersion) && !errors.Is(err, crdt.ErrKind) {
				t.Fatalf("UnmarshalBinary error %v wraps no sentinel", err)
			}
			return
		}
		re, _ := c.MarshalBinary()
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted input is not canonical:\n  in  %x\n  out %x", b, re)
		}
		if !c.Includes(&c) {
			t.Fatal("a decoded context does not include itself")
		}
	})
}
