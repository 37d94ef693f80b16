package replica

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

// Kind conflicts. An object's kind is fixed by its first write, but two
// sites that cannot talk may each create the same name, one as a counter
// and one as a set. Neither delta can merge into the other's object, and
// left alone the sites would hold different objects forever.
//
// The rule: every object carries its birth, the stamp (hybrid time, then
// replica id) of the write that created it, and the kind created earliest
// wins on every site; between equal births (objects older than births,
// whose birth is the zero stamp) the lower kind number wins. The losing
// kind's state is not dropped: it is kept aside, beside the object, merged
// with every later delta of that kind, written to the store file
// (conflicts/) and reported (Store.Conflicts, the
// duohuo_replica_kind_conflicts gauge, GET /v1/kv/, duohuo kv status), so
// that what a site acknowledged can still be read and moved by hand. Local
// writes of the losing kind are refused (409 over HTTP, naming the
// winner).
//
// Why this converges: per name, the state is a map from kind to (birth,
// state), each part merged by its own join (births by minimum), and the
// visible object is the part with the least (birth, kind). That is a
// product of join-semilattices, so the order of delivery does not matter;
// and the winning part, being least wherever it is known, is always the
// visible object there and reaches every site by anti-entropy like any
// other object. Births are part of an object's digest, so that sites that
// created the same kind concurrently also agree on its birth.

// before reports whether an object of kind ak born at a wins over one of
// kind bk born at b.
func before(a crdt.Stamp, ak crdt.Kind, b crdt.Stamp, bk crdt.Kind) bool {
	if c := a.Compare(b); c != 0 {
		return c < 0
	}
	return ak < bk
}

// minStamp returns the earlier of two births.
func minStamp(a, b crdt.Stamp) crdt.Stamp {
	if a.Compare(b) <= 0 {
		return a
	}
	return b
}

// aside is the state of a losing kind, kept beside the object.
type aside struct {
	birth crdt.Stamp
	obj   crdt.Object
	since time.Time // when this site set it aside
}

// kindTable holds the births of a store's objects and the states set
// aside. It is not safe for concurrent use: the Store guards it with its
// lock, recovery uses it alone.
type kindTable struct {
	births map[string]crdt.Stamp           // absent: the zero stamp
	aside  map[string]map[crdt.Kind]*aside // never an empty inner map
	dirty  map[string]struct{}             // names whose aside states changed since the last checkpoint
}

func newKindTable() *kindTable {
	return &kindTable{
		births: make(map[string]crdt.Stamp),
		aside:  make(map[string]map[crdt.Kind]*aside),
		dirty:  make(map[string]struct{}),
	}
}

// admission is what admit did with a delta.
type admission int

const (
	// admitMerge: the delta is of the object's kind (or the object is
	// new); the caller merges it as usual. The birth is already merged.
	admitMerge admission = iota
	// admitAside: the delta is of a losing kind and was merged into its
	// state aside; changed says whether that brought anything new.
	admitAside
	// admitReplaced: the delta's kind wins: the object was set aside and
	// replaced by the delta merged into what was aside of its kind.
	admitReplaced
)

// admit resolves delta, born at birth, against object key of objects. It
// never merges a delta into an object of another kind. first is set when
// a kind is set aside for the first time under key (an operator should be
// told), changed when anything changed.
func (t *kindTable) admit(objects map[string]crdt.Object, key string, birth crdt.Stamp, delta crdt.Object, now time.Time) (a admission, changed, first bool) {
	o, ok := objects[key]
	if !ok {
		t.setBirth(key, birth) // the caller installs the delta
		return admitMerge, true, false
	}
	cur := t.births[key] // absent: zero, an object older than births
	if o.Kind() == delta.Kind() {
		if birth.Compare(cur) < 0 {
			t.setBirth(key, birth)
			return admitMerge, true, false
		}
		return admitMerge, false, false
	}
	if !before(birth, delta.Kind(), cur, o.Kind()) {
		changed, first = t.putAside(key, birth, delta, now)
		return admitAside, changed, first
	}
	_, first = t.putAside(key, cur, o, now)
	w := crdt.Clone(delta)
	if prev, ok := t.aside[key][delta.Kind()]; ok {
		_ = crdt.Merge(w, prev.obj) // same kind
		birth = minStamp(birth, prev.birth)
		t.dropAside(key, delta.Kind())
	}
	objects[key] = w
	t.setBirth(key, birth)
	return admitReplaced, true, first
}

func (t *kindTable) setBirth(key string, b crdt.Stamp) {
	if b.IsZero() {
		delete(t.births, key)
		return
	}
	t.births[key] = b
}

// putAside merges o, born at birth, into key's state aside of its kind.
func (t *kindTable) putAside(key string, birth crdt.Stamp, o crdt.Object, now time.Time) (changed, first bool) {
	m := t.aside[key]
	if m == nil {
		m = make(map[crdt.Kind]*aside)
		t.aside[key] = m
	}
	a, ok := m[o.Kind()]
	if !ok {
		m[o.Kind()] = &aside{birth: birth, obj: crdt.Clone(o), since: now}
		t.dirty[key] = struct{}{}
		return true, true
	}
	before := a.obj.Digest()
	_ = crdt.Merge(a.obj, o) // same kind
	nb := minStamp(a.birth, birth)
	if nb == a.birth && a.obj.Digest() == before {
		return false, false
	}
	a.birth = nb
	t.dirty[key] = struct{}{}
	return true, false
}

func (t *kindTable) dropAside(key string, k crdt.Kind) {
	delete(t.aside[key], k)
	if len(t.aside[key]) == 0 {
		delete(t.aside, key)
	}
	t.dirty[key] = struct{}{}
}

// count returns the number of states aside.
func (t *kindTable) count() int {
	n := 0
	for _, m := range t.aside {
		n += len(m)
	}
	return n
}

// Conflict is a kind conflict: object Object was created as two kinds at
// different sites, and the state of the losing kind, Kind, is kept aside
// on this site (see docs/replication.md, "Kind conflicts").
type Conflict struct {
	Object string `json:"object"`
	// Kind is the kind kept aside; Winner the object's kind, which every
	// site keeps.
	Kind   string `json:"kind"`
	Winner string `json:"winner"`
	// Born is when the losing kind was first created (hybrid time), by
	// replica BornBy; WinnerBorn when the winner was.
	Born       time.Time `json:"born"`
	BornBy     string    `json:"born_by"`
	WinnerBorn time.Time `json:"winner_born"`
	// Since is when this site set it aside.
	Since time.Time `json:"since"`
	// State is the losing kind's state, as GET /v1/kv/{name} shows an
	// object.
	State ObjectJSON `json:"state"`
}

// ConflictCount returns the number of states kept aside by kind
// conflicts: len(Conflicts()) without copying them.
func (s *Store) ConflictCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds.count()
}

// Conflicts returns the kind conflicts this site holds, sorted by object
// and kind.
func (s *Store) Conflicts() []Conflict {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Conflict
	for _, key := range slices.Sorted(maps.Keys(s.kinds.aside)) {
		m := s.kinds.aside[key]
		for _, k := range slices.Sorted(maps.Keys(m)) {
			a := m[k]
			c := Conflict{
				Object: key, Kind: k.String(),
				Born: a.birth.Time.Time(), BornBy: a.birth.Replica.String(),
				WinnerBorn: s.kinds.births[key].Time.Time(),
				Since:      a.since.UTC(), State: ToJSON(key, a.obj),
			}
			if o, ok := s.objects[key]; ok {
				c.Winner = o.Kind().String()
			}
			out = append(out, c)
		}
	}
	return out
}

// appendStamp appends a birth: 8-byte hybrid time, 8-byte replica id.
func appendStamp(b []byte, st crdt.Stamp) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(st.Time))
	return binary.BigEndian.AppendUint64(b, uint64(st.Replica))
}

func parseStamp(b []byte) (crdt.Stamp, error) {
	if len(b) != 16 {
		return crdt.Stamp{}, fmt.Errorf("birth of %d bytes, want 16: %w", len(b), errCorrupt)
	}
	return crdt.Stamp{Time: crdt.Timestamp(binary.BigEndian.Uint64(b)), Replica: crdt.ReplicaID(binary.BigEndian.Uint64(b[8:]))}, nil
}

// asideKey is an aside state's key in the conflicts bucket: the object's
// name, a zero byte, the kind.
func asideKey(key string, k crdt.Kind) []byte {
	return append(append([]byte(key), 0), byte(k))
}

// asideClear is how many bytes of a conflicts value stay clear with
// encryption at rest: the birth and the time.
const asideClear = 24

// encodeAside is an aside state's value in the conflicts bucket: the
// birth, the Unix milliseconds it was set aside, the encoded state.
func encodeAside(a *aside) []byte {
	b := appendStamp(nil, a.birth)
	b = binary.BigEndian.AppendUint64(b, uint64(a.since.UnixMilli()))
	b, _ = a.obj.AppendBinary(b)
	return b
}

func decodeAside(k, v []byte) (string, *aside, error) {
	if len(k) < 3 || k[len(k)-2] != 0 {
		return "", nil, fmt.Errorf("key of %d bytes, want a name, a zero byte and a kind: %w", len(k), errCorrupt)
	}
	key := string(k[:len(k)-2])
	if len(v) < 24 {
		return key, nil, fmt.Errorf("%d bytes, want a 16-byte birth, an 8-byte time and a state: %w", len(v), errCorrupt)
	}
	birth, _ := parseStamp(v[:16])
	o, err := crdt.Decode(v[24:])
	if err != nil {
		return key, nil, err
	}
	if o.Kind() != crdt.Kind(k[len(k)-1]) {
		return key, nil, fmt.Errorf("state of kind %v under kind %v: %w", o.Kind(), crdt.Kind(k[len(k)-1]), errCorrupt)
	}
	return key, &aside{birth: birth, obj: o, since: time.UnixMilli(int64(binary.BigEndian.Uint64(v[16:24])))}, nil
}

// logConflictLocked tells the operator that key's object of kind lost
// kind was set aside. Called with s.mu held.
func (s *Store) logConflictLocked(key string, lost crdt.Kind, from string) {
	winner := s.objects[key].Kind()
	s.log.Warn("replica: kind conflict: object created as two kinds at different sites; the kind created first is kept everywhere, the other is kept aside on this site (duohuo kv status)",
		"object", key, "kind", winner, "born", s.kinds.births[key], "aside", lost, "from", from)
}
