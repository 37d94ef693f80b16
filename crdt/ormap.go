package crdt

import (
	"bytes"
	"encoding/binary"
	"iter"
)

// ORMap is an observed-remove map from string keys to last-writer-wins
// byte-string values: the KV namespace type.
//
// Why LWW for values: KV values here are opaque blobs (rules, settings,
// users' keys) that no reader can merge, so the store must pick one. A
// multi-value register would hand every conflict to every reader; Redis
// Active-Active resolves opaque strings the same way. The winner is the
// write with the greatest [Stamp]: hybrid logical time, which stays close
// to wall time so "the latest write wins" means what an operator expects,
// then the higher replica id, which makes the choice deterministic.
//
// Why observed-remove for keys: Delete removes only the writes it has seen,
// so a Put concurrent with a Delete survives (add wins) and no tombstone is
// kept. Concurrent Puts to one key are all kept (each under its own dot)
// until a later Put or Delete that has seen them replaces them; reads
// return the winner. Keeping the losers is what makes the merge a true
// join: dropping them early breaks associativity.
//
// Mutators apply to the map and return the delta; a delta is itself an
// ORMap and merges like a full state.
//
// Use [NewORMap]; the zero value is also an empty map ready to use. An ORMap
// is not safe for concurrent use.
type ORMap struct{ s dotStore[mapValue] }

type mapValue struct {
	time  Timestamp
	value []byte
}

// pickValue resolves two values under one dot, which only decoded,
// inconsistent input can produce: keep the greater, deterministically.
func pickValue(a, b mapValue) mapValue {
	if a.time != b.time {
		if a.time > b.time {
			return a
		}
		return b
	}
	if bytes.Compare(a.value, b.value) >= 0 {
		return a
	}
	return b
}

// NewORMap returns an empty map.
func NewORMap() *ORMap { return &ORMap{s: dotStore[mapValue]{pick: pickValue}} }

func (m *ORMap) store() *dotStore[mapValue] {
	if m.s.pick == nil {
		m.s.pick = pickValue
	}
	return &m.s
}

// Put sets key to a copy of value, written by replica r at hybrid time ts
// (take it from the replica's [Clock]), and returns the delta.
func (m *ORMap) Put(r ReplicaID, ts Timestamp, key string, value []byte) *ORMap {
	v := mapValue{time: ts, value: bytes.Clone(value)}
	if v.value == nil {
		v.value = []byte{}
	}
	return &ORMap{s: m.store().add(r, key, v)}
}

// Delete removes key on behalf of replica r, as far as r has seen it, and
// returns the delta. Deleting an absent key returns an empty delta.
func (m *ORMap) Delete(r ReplicaID, key string) *ORMap { return &ORMap{s: m.store().remove(r, key)} }

// Settle collapses key's concurrent writes into the winning one, if replica
// r wrote the winner, applies that and returns the delta; otherwise it
// returns nil. The winner is written again with its own stamp, so it
// neither gains nor loses against writes it has not seen, and the new write
// replaces every write r has seen. Only the winner's writer settles, so
// sites do not race each other to settle one conflict; a replica calls
// Settle for the keys of each delta it merges. Without it, the values of
// losing writes stay until the next write to the key.
func (m *ORMap) Settle(r ReplicaID, key string) *ORMap {
	es := m.s.keys[key]
	if len(es) < 2 {
		return nil
	}
	w := es[winner(es)]
	if w.dot.Replica != r {
		return nil
	}
	return m.Put(r, w.val.time, key, w.val.value)
}

// winner returns the index of key's winning entry.
func winner(es []dotted[mapValue]) int {
	w := 0
	for i := 1; i < len(es); i++ {
		a, b := es[i], es[w]
		c := Stamp{a.val.time, a.dot.Replica}.Compare(Stamp{b.val.time, b.dot.Replica})
		if c == 0 {
			c = bytes.Compare(a.val.value, b.val.value)
		}
		if c > 0 {
			w = i
		}
	}
	return w
}

// Get returns key's value and whether key is present. The returned slice
// must not be modified.
func (m *ORMap) Get(key string) ([]byte, bool) {
	es, ok := m.s.keys[key]
	if !ok {
		return nil, false
	}
	return es[winner(es)].val.value, true
}

// Entry describes a key's current value.
type Entry struct {
	Value     []byte // must not be modified
	Stamp     Stamp  // the winning write
	Conflicts int    // concurrent writes kept besides the winner
}

// Lookup returns key's entry and whether key is present.
func (m *ORMap) Lookup(key string) (Entry, bool) {
	es, ok := m.s.keys[key]
	if !ok {
		return Entry{}, false
	}
	w := es[winner(es)]
	return Entry{Value: w.val.value, Stamp: Stamp{w.val.time, w.dot.Replica}, Conflicts: len(es) - 1}, true
}

// Len returns the number of keys.
func (m *ORMap) Len() int { return len(m.s.keys) }

// Keys returns the keys in byte order.
func (m *ORMap) Keys() []string { return m.s.sortedKeys() }

// All iterates over keys in byte order with their values.
func (m *ORMap) All() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		for _, k := range m.s.sortedKeys() {
			v, _ := m.Get(k)
			if !yield(k, v) {
				return
			}
		}
	}
}

// Merge joins other (a state or a delta) into m. other is not modified.
func (m *ORMap) Merge(other *ORMap) { m.store().merge(other.store()) }

// Context returns the map's causal context (read-only: do not modify it).
func (m *ORMap) Context() *CausalContext { return &m.s.ctx }

// Clone returns a deep copy of m (values are shared: they are immutable).
func (m *ORMap) Clone() *ORMap { return &ORMap{s: m.store().clone()} }

// Kind returns [KindORMap].
func (m *ORMap) Kind() Kind { return KindORMap }

// AppendBinary appends the canonical encoding of m. Per key it costs the
// key, the value, one dot (about 3 bytes with the replica table) and an
// 8-byte timestamp.
func (m *ORMap) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindORMap)
	return m.s.appendTo(b, func(b []byte, v mapValue) []byte {
		b = binary.BigEndian.AppendUint64(b, uint64(v.time))
		return appendBytes(b, v.value)
	}), nil
}

// MarshalBinary returns the canonical encoding of m.
func (m *ORMap) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary replaces m with the decoded state.
func (m *ORMap) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, KindORMap)
	n := NewORMap()
	n.s.decodeFrom(d, 9, func(d *decoder) mapValue {
		t := Timestamp(d.fixed64("value time"))
		// Copy: the decoded state must not alias the caller's buffer.
		v := append([]byte{}, d.bytes("value", MaxValueLen)...)
		return mapValue{time: t, value: v}
	})
	if err := d.finish(); err != nil {
		return err
	}
	*m = *n
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (m *ORMap) Digest() [32]byte { return digest(m) }

func (*ORMap) isObject() {}
