package crdt

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// LWWSet is a last-writer-wins element set of strings, an early type of the
// product, kept for compatibility. Each element remembers
// the greatest [Stamp] of an add and of a remove; it is present when its add
// stamp is greater than its remove stamp. Stamps order by hybrid logical
// time and then by replica id, and an add and a remove with equal stamps
// (impossible with a [Clock] and unique replica ids) count as present: the
// bias is towards add.
//
// Prefer [ORSet]: here a remove with a later clock reading beats an add that
// it never saw, so a site with a fast clock can silently undo other sites'
// adds, and a removed element stays as a tombstone until [LWWSet.Compact]
// drops it once every site has seen the removal.
//
// The zero value is an empty set ready to use. An LWWSet is not safe for
// concurrent use.
type LWWSet struct {
	e map[string]lwwElem
	// floor is the stability frontier of the last compaction: every site
	// had seen every write stamped at or before it, so received stamps at
	// or before it are already reflected here (or were dropped as dead)
	// and Merge ignores them. Zero until the first compaction.
	floor Timestamp
}

type lwwElem struct{ add, rem Stamp }

func (s *LWWSet) update(e string, x lwwElem) {
	cur := s.e[e]
	if x.add.Compare(cur.add) > 0 {
		cur.add = x.add
	}
	if x.rem.Compare(cur.rem) > 0 {
		cur.rem = x.rem
	}
	if cur == (lwwElem{}) {
		return
	}
	if s.e == nil {
		s.e = make(map[string]lwwElem)
	}
	s.e[e] = cur
}

// Add adds e with stamp st and returns the delta.
func (s *LWWSet) Add(st Stamp, e string) *LWWSet {
	d := &LWWSet{}
	d.update(e, lwwElem{add: st})
	s.Merge(d)
	return d
}

// Remove removes e with stamp st and returns the delta.
func (s *LWWSet) Remove(st Stamp, e string) *LWWSet {
	d := &LWWSet{}
	d.update(e, lwwElem{rem: st})
	s.Merge(d)
	return d
}

// Contains reports whether e is in the set.
func (s *LWWSet) Contains(e string) bool {
	x, ok := s.e[e]
	return ok && !x.add.IsZero() && x.add.Compare(x.rem) >= 0
}

// Elements returns the present elements in byte order.
func (s *LWWSet) Elements() []string {
	var es []string
	for e := range s.e {
		if s.Contains(e) {
			es = append(es, e)
		}
	}
	slices.Sort(es)
	return es
}

// Len returns the number of present elements.
func (s *LWWSet) Len() int {
	n := 0
	for e := range s.e {
		if s.Contains(e) {
			n++
		}
	}
	return n
}

// Merge joins other (a state or a delta) into s. Stamps at or before the
// frontier s was compacted to are ignored: every site had already seen
// those writes, so they are reflected in s or were garbage it dropped. If
// other was compacted to a later frontier, s is compacted to it too. Once a
// set is compacted, Merge is a join (commutative, associative, idempotent
// in what it contains) only among states that reflect every write up to
// the frontier, which a true stability frontier guarantees of every
// member's state.
func (s *LWWSet) Merge(other *LWWSet) {
	for e, x := range other.e {
		if s.floor != 0 {
			if x.add.Time <= s.floor {
				x.add = Stamp{}
			}
			if x.rem.Time <= s.floor {
				x.rem = Stamp{}
			}
			if x == (lwwElem{}) {
				continue
			}
			s.update(e, x)
			// A later stamp may make one of e's stamps at or before
			// the frontier a loser: drop it as Compact would.
			switch y := trimLWW(s.e[e], s.floor); {
			case y == lwwElem{}:
				delete(s.e, e)
			default:
				s.e[e] = y
			}
			continue
		}
		s.update(e, x)
	}
	if other.floor > s.floor {
		s.compact(other.floor)
	}
}

// Compact garbage-collects the metadata that can no longer change what the
// set contains, given stable, a causal stability frontier: a timestamp such
// that every site's state already reflects every add and remove stamped at
// or before it (see replica.Store.Stable, which computes one only from what
// every member has acknowledged). It drops each element whose remove is
// stable and beats its add (the tombstone and the older add), and every
// stable stamp that lost: the remove of a present element, the add of a
// removed one. It returns how many elements it dropped or trimmed, and
// leaves s unchanged (no frontier recorded) when that is zero.
//
// After Compact, s ignores received stamps at or before stable, so a stale
// delta or an uncompacted state from another site cannot bring a dropped
// element back: merging s with any state that reflects every write up to
// stable gives the same elements with or without the compaction. Passing a
// timestamp that is not a stability frontier breaks that: a write stamped
// at or before it that some site has not yet seen would be ignored here.
func (s *LWWSet) Compact(stable Timestamp) int {
	if stable <= s.floor || !s.collectable(stable) {
		return 0
	}
	return s.compact(stable)
}

// collectable reports whether compacting to stable would change s.
func (s *LWWSet) collectable(stable Timestamp) bool {
	for _, x := range s.e {
		if trimLWW(x, stable) != x {
			return true
		}
	}
	return false
}

// trimLWW returns x without the stamps at or before stable that lost: the
// losing field can never win again, as every later write is stamped after
// stable. What is left of a removed element whose remove is stable too is
// the zero lwwElem, which the caller deletes.
func trimLWW(x lwwElem, stable Timestamp) lwwElem {
	present := !x.add.IsZero() && x.add.Compare(x.rem) >= 0
	if present && !x.rem.IsZero() && x.rem.Time <= stable {
		x.rem = Stamp{}
	}
	if !present && !x.add.IsZero() && x.add.Time <= stable {
		x.add = Stamp{}
	}
	if x.add.IsZero() && x.rem.Time <= stable {
		return lwwElem{}
	}
	return x
}

func (s *LWWSet) compact(stable Timestamp) int {
	s.floor = stable
	n := 0
	for e, x := range s.e {
		switch y := trimLWW(x, stable); {
		case y == x:
		case y == lwwElem{}:
			delete(s.e, e)
			n++
		default:
			s.e[e] = y
			n++
		}
	}
	return n
}

// Tombstones returns how many removed elements s still holds metadata for:
// what [LWWSet.Compact] would drop once their removals are stable.
func (s *LWWSet) Tombstones() int {
	n := 0
	for e := range s.e {
		if !s.Contains(e) {
			n++
		}
	}
	return n
}

// Frontier returns the stability frontier s was last compacted to, zero if
// it never was.
func (s *LWWSet) Frontier() Timestamp { return s.floor }

// Clone returns a deep copy of s.
func (s *LWWSet) Clone() *LWWSet { return &LWWSet{e: maps.Clone(s.e), floor: s.floor} }

// Kind returns [KindLWWSet].
func (s *LWWSet) Kind() Kind { return KindLWWSet }

// AppendBinary appends the canonical encoding of s.
func (s *LWWSet) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindLWWSet)
	ks := slices.Sorted(maps.Keys(s.e))
	b = binary.AppendUvarint(b, uint64(len(ks)))
	for _, k := range ks {
		b = appendString(b, k)
		b = appendStamp(b, s.e[k].add)
		b = appendStamp(b, s.e[k].rem)
	}
	if s.floor != 0 {
		// Optional trailer, so that the states of sets never compacted
		// encode as before.
		b = binary.BigEndian.AppendUint64(b, uint64(s.floor))
	}
	return b, nil
}

// MarshalBinary returns the canonical encoding of s.
func (s *LWWSet) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// UnmarshalBinary replaces s with the decoded state.
func (s *LWWSet) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, KindLWWSet)
	var n LWWSet
	cnt := d.count("element count", 19)
	var prev string
	for i := range cnt {
		at := d.off
		k := string(d.bytes("element", MaxKeyLen))
		x := lwwElem{add: d.stamp("add stamp"), rem: d.stamp("remove stamp")}
		if d.err != nil {
			break
		}
		if i > 0 && k <= prev || x == (lwwElem{}) {
			d.off = at
			d.fail(fmt.Sprintf("element %q out of order or without stamps", k), ErrMalformed)
			break
		}
		prev = k
		n.update(k, x)
	}
	if d.err == nil && d.off < len(d.b) {
		at := d.off
		if n.floor = Timestamp(d.fixed64("compaction frontier")); d.err == nil && n.floor == 0 {
			d.off = at
			d.fail("zero compaction frontier", ErrMalformed)
		}
		// A compacted state holds nothing its frontier collects: anything
		// else is not what Compact and Merge produce, and would change in
		// a merge into an empty set.
		for _, k := range slices.Sorted(maps.Keys(n.e)) {
			if d.err == nil && trimLWW(n.e[k], n.floor) != n.e[k] {
				d.off = at
				d.fail(fmt.Sprintf("element %q holds a stamp its compaction frontier collects", k), ErrMalformed)
			}
		}
	}
	if err := d.finish(); err != nil {
		return err
	}
	*s = n
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (s *LWWSet) Digest() [32]byte { return digest(s) }

func (*LWWSet) isObject() {}
