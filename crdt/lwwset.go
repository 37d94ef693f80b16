package crdt

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// LWWSet is a last-writer-wins element set of strings, the type of the
// original design document, kept for compatibility. Each element remembers
// the greatest [Stamp] of an add and of a remove; it is present when its add
// stamp is greater than its remove stamp. Stamps order by hybrid logical
// time and then by replica id, and an add and a remove with equal stamps
// (impossible with a [Clock] and unique replica ids) count as present: the
// bias is towards add.
//
// Prefer [ORSet]: here a remove with a later clock reading beats an add that
// it never saw, so a site with a fast clock can silently undo other sites'
// adds, and removed elements stay as tombstones forever.
//
// The zero value is an empty set ready to use. An LWWSet is not safe for
// concurrent use.
type LWWSet struct {
	e map[string]lwwElem
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

// Merge joins other (a state or a delta) into s.
func (s *LWWSet) Merge(other *LWWSet) {
	for e, x := range other.e {
		s.update(e, x)
	}
}

// Clone returns a deep copy of s.
func (s *LWWSet) Clone() *LWWSet { return &LWWSet{e: maps.Clone(s.e)} }

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
	if err := d.finish(); err != nil {
		return err
	}
	*s = n
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (s *LWWSet) Digest() [32]byte { return digest(s) }

func (*LWWSet) isObject() {}
