package crdt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

func TestLWWSetCompact(t *testing.T) {
	s := func(ms int64, r crdt.ReplicaID) crdt.Stamp { return crdt.Stamp{Time: ts(ms), Replica: r} }
	tests := []struct {
		name       string
		stable     int64                   // the frontier every site has acknowledged, ms
		before     func(a, b *crdt.LWWSet) // writes every site has seen: applied to both
		after      func(a, b *crdt.LWWSet) // writes after compacting a: a and b see their own
		stale      func(a *crdt.LWWSet)    // late duplicates of writes at or before the frontier
		want       []string
		dropped    int // what Compact reports
		tombstones int // left in a after Compact
	}{
		{name: "a stable remove drops the tombstone and the older add", stable: 10,
			before:  func(a, b *crdt.LWWSet) { a.Add(s(1, siteA), "x"); a.Remove(s(2, siteB), "x") },
			dropped: 1, tombstones: 0},
		{name: "a stale add delivered after compaction does not bring the element back", stable: 10,
			before:  func(a, b *crdt.LWWSet) { a.Add(s(1, siteA), "x"); a.Remove(s(2, siteB), "x") },
			stale:   func(a *crdt.LWWSet) { a.Add(s(1, siteA), "x"); a.Add(s(2, siteA), "x") },
			dropped: 1, tombstones: 0},
		{name: "an add after the frontier wins over a collected remove", stable: 10,
			before: func(a, b *crdt.LWWSet) { a.Remove(s(2, siteB), "x") },
			after:  func(a, b *crdt.LWWSet) { b.Add(s(11, siteC), "x") },
			want:   []string{"x"}, dropped: 1, tombstones: 0},
		{name: "a remove after the frontier is kept until it is stable", stable: 10,
			before:  func(a, b *crdt.LWWSet) { a.Add(s(1, siteA), "x"); a.Remove(s(2, siteA), "y") },
			after:   func(a, b *crdt.LWWSet) { b.Remove(s(12, siteB), "x") },
			dropped: 1, tombstones: 0},
		{name: "a present element keeps its add and loses its stable losing remove", stable: 10,
			before: func(a, b *crdt.LWWSet) { a.Remove(s(2, siteB), "x"); a.Add(s(3, siteA), "x") },
			after:  func(a, b *crdt.LWWSet) { b.Remove(s(2, siteC), "x") }, // stale, from b's side
			want:   []string{"x"}, dropped: 1, tombstones: 0},
		{name: "a remove not yet stable keeps its tombstone and loses only the stable add", stable: 10,
			before:  func(a, b *crdt.LWWSet) { a.Add(s(1, siteA), "x"); a.Remove(s(20, siteB), "x") },
			stale:   func(a *crdt.LWWSet) { a.Add(s(1, siteA), "x") },
			dropped: 1, tombstones: 1},
		{name: "a remove not yet stable of an element never added is not collected", stable: 10,
			before:  func(a, b *crdt.LWWSet) { a.Remove(s(20, siteB), "x") },
			dropped: 0, tombstones: 1},
		{name: "an add not yet stable keeps a stable remove out of the way", stable: 10,
			before: func(a, b *crdt.LWWSet) { a.Remove(s(5, siteB), "x"); a.Add(s(20, siteA), "x") },
			want:   []string{"x"}, dropped: 1, tombstones: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a crdt.LWWSet
			tt.before(&a, nil)
			b := a.Clone()
			if got := a.Compact(ts(tt.stable)); got != tt.dropped {
				t.Errorf("Compact(%d) = %d, want %d", tt.stable, got, tt.dropped)
			}
			if got := a.Tombstones(); got != tt.tombstones {
				t.Errorf("Tombstones() after Compact = %d, want %d", got, tt.tombstones)
			}
			if tt.after != nil {
				tt.after(&a, b)
			}
			if tt.stale != nil {
				tt.stale(&a)
				tt.stale(b)
			}
			ab, ba := a.Clone(), b.Clone()
			ab.Merge(b)
			ba.Merge(&a)
			for name, x := range map[string]*crdt.LWWSet{"a⊔b": ab, "b⊔a": ba} {
				if got := x.Elements(); !slices.Equal(got, tt.want) {
					t.Errorf("%s: Elements() = %q, want %q", name, got, tt.want)
				}
			}
			if ab.Digest() != ba.Digest() {
				t.Errorf("a⊔b and b⊔a differ: the compaction did not reach b through the merge")
			}
		})
	}
}

func TestLWWSetCompactLeavesNothingToCollectUnchanged(t *testing.T) {
	var a crdt.LWWSet
	a.Add(crdt.Stamp{Time: ts(1), Replica: siteA}, "x")
	before := a.Digest()
	if n := a.Compact(ts(10)); n != 0 || a.Digest() != before || a.Frontier() != 0 {
		t.Errorf("Compact with nothing to collect = %d, frontier %v, digest changed %v; want 0, 0, false",
			n, a.Frontier(), a.Digest() != before)
	}
	a.Remove(crdt.Stamp{Time: ts(2), Replica: siteA}, "x")
	if n := a.Compact(ts(10)); n != 1 || a.Frontier() != ts(10) {
		t.Fatalf("Compact(10) = %d, frontier %v; want 1, %v", n, a.Frontier(), ts(10))
	}
	if n := a.Compact(ts(5)); n != 0 || a.Frontier() != ts(10) {
		t.Errorf("Compact to an older frontier = %d, frontier %v; want 0 and the frontier kept", n, a.Frontier())
	}
}

func TestLWWSetFrontierEncoding(t *testing.T) {
	var a crdt.LWWSet
	a.Add(crdt.Stamp{Time: ts(1), Replica: siteA}, "x")
	plain, _ := a.MarshalBinary()
	a.Add(crdt.Stamp{Time: ts(3), Replica: siteA}, "y")
	a.Remove(crdt.Stamp{Time: ts(2), Replica: siteA}, "y")
	a.Remove(crdt.Stamp{Time: ts(2), Replica: siteB}, "z")
	a.Compact(ts(10))
	enc, _ := a.MarshalBinary()
	o, err := crdt.Decode(enc)
	if err != nil {
		t.Fatalf("Decode(compacted) = %v", err)
	}
	got := o.(*crdt.LWWSet)
	if got.Frontier() != ts(10) || got.Digest() != a.Digest() {
		t.Errorf("decoded frontier %v, digest equal %v; want %v, true", got.Frontier(), got.Digest() == a.Digest(), ts(10))
	}
	// A set never compacted encodes without the trailer, as before.
	var p crdt.LWWSet
	if err := p.UnmarshalBinary(plain); err != nil || p.Frontier() != 0 {
		t.Errorf("decode of an uncompacted set: frontier %v, err %v", p.Frontier(), err)
	}
	for name, b := range map[string][]byte{
		"zero frontier":      binary.BigEndian.AppendUint64(slices.Clone(plain), 0),
		"truncated frontier": append(slices.Clone(plain), 0, 1, 2),
	} {
		if _, err := crdt.Decode(b); !errors.Is(err, crdt.ErrMalformed) {
			t.Errorf("%s: Decode = %v, want ErrMalformed", name, err)
		}
	}
}

// stableHistory runs first (random writes, deliveries, losses and merges at
// three replicas), then makes every replica see every write so far (what
// replica.Store.Stable acknowledges) and returns that frontier, then runs
// second. The deltas of first are kept as stale messages that may still
// arrive.
func stableHistory(first, second []byte) (h *history, stable crdt.Timestamp, stale []crdt.Object) {
	h = newHistory(crdt.KindLWWSet, 3)
	h.run(first)
	all := join(h.replicas...)
	for i := range h.replicas {
		must(crdt.Merge(h.replicas[i], all))
		stable = max(stable, h.clocks[i].Last())
		h.pending[i] = nil
	}
	for _, c := range h.clocks {
		if _, err := c.Update(stable); err != nil { // what receiving the writes does
			panic(err)
		}
	}
	stale = slices.Clone(h.deltas)
	h.run(second)
	return h, stable, stale
}

// checkCompactLaws checks that compacting to a stability frontier changes
// no observable result: any two replicas (both reflect every write up to
// the frontier) merge to the same elements with or without compacting
// either, stale deltas change nothing, later deltas act the same, and
// compaction commutes with merge.
func checkCompactLaws(t *testing.T, h *history, stable crdt.Timestamp, stale []crdt.Object) {
	t.Helper()
	compact := func(o crdt.Object) *crdt.LWWSet {
		c := o.(*crdt.LWWSet).Clone()
		c.Compact(stable)
		return c
	}
	elems := func(o crdt.Object) []string { return o.(*crdt.LWWSet).Elements() }
	same := func(law string, got, want crdt.Object) {
		t.Helper()
		if g, w := elems(got), elems(want); !slices.Equal(g, w) {
			t.Fatalf("%s: elements %q, want %q\n  %s\n  %s", law, g, w, describe(got), describe(want))
		}
	}
	later := h.deltas[len(stale):]
	for i, x := range h.replicas {
		cx := compact(x)
		same("Compact(x) has x's elements", cx, x)
		for _, y := range h.replicas {
			same("Compact(x) ⊔ y = x ⊔ y", join(cx, y), join(x, y))
			same("y ⊔ Compact(x) = y ⊔ x", join(y, cx), join(y, x))
			same("Compact(x) ⊔ Compact(y) = x ⊔ y", join(cx, compact(y)), join(x, y))
			if a, b := entries(compact(join(x, y))), entries(join(cx, compact(y))); !bytes.Equal(a, b) {
				t.Fatalf("replica %d: Compact(x ⊔ y) ≠ Compact(x) ⊔ Compact(y):\n  %x\n  %x", i, a, b)
			}
		}
		for _, d := range stale {
			same("Compact(x) ⊔ stale δ = x", join(cx, d), x)
			nv, _, err := crdt.Novel(cx, d)
			if err != nil {
				t.Fatal(err)
			}
			if join(cx, nv).Digest() != join(cx, d).Digest() {
				t.Fatalf("replica %d: Compact(x) ⊔ Novel(Compact(x), δ) ≠ Compact(x) ⊔ δ", i)
			}
		}
		for _, d := range later {
			same("Compact(x) ⊔ later δ = x ⊔ later δ", join(cx, d), join(x, d))
		}
	}
	whole := compact(join(h.replicas...))
	if len(later) == 0 && whole.Tombstones() != 0 {
		t.Fatalf("with every write stable, %d tombstones survive compaction", whole.Tombstones())
	}
}

// entries returns the encoding of s without the frontier it records: a set
// that had nothing to collect does not record one (Compact leaves it
// unchanged), and the next merge with a compacted state adopts it.
func entries(o crdt.Object) []byte {
	s := o.(*crdt.LWWSet)
	b, _ := s.MarshalBinary()
	if s.Frontier() != 0 {
		b = b[:len(b)-8]
	}
	return b
}

// compactSeeds are pairs of programs (see history.run): removes and adds of
// the same elements at several replicas, lost and duplicated deltas, and
// later writes that race the compacted tombstones.
var compactSeeds = [][2][]byte{
	{{0, 0x00, 8, 0x00, 3, 0x10, 7, 0x05}, {0, 0x10, 3, 0x20}},
	{{0, 0x01, 8, 0x11, 16, 0x21, 5, 0x10, 4, 0x20, 7, 0x03}, {8, 0x01, 0, 0x21, 3, 0x00, 6, 0x10}},
	{{8, 0x02, 0, 0x12, 8, 0x22, 7, 0x00, 0, 0x03}, nil},
	{{0, 0x00, 0, 0x01, 0, 0x02, 8, 0x10, 8, 0x11, 3, 0x00, 3, 0x01}, {0, 0x20, 7, 0x01, 8, 0x21, 4, 0x00, 3, 0x00}},
}

func TestLWWSetCompactLaws(t *testing.T) {
	for _, s := range compactSeeds {
		h, stable, stale := stableHistory(s[0], s[1])
		checkCompactLaws(t, h, stable, stale)
	}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		prog := func() []byte {
			b := make([]byte, 2*(1+rng.IntN(30)))
			for i := range b {
				b[i] = byte(rng.IntN(256))
			}
			return b
		}
		h, stable, stale := stableHistory(prog(), prog())
		checkCompactLaws(t, h, stable, stale)
	}
}

func FuzzLWWSetCompact(f *testing.F) {
	for _, s := range compactSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		if len(first)+len(second) > 2048 {
			return
		}
		h, stable, stale := stableHistory(first, second)
		checkCompactLaws(t, h, stable, stale)
	})
}
