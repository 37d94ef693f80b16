package crdt

import (
	"iter"
	"slices"
)

// ORSet is an add-wins observed-remove set of strings without per-element
// tombstones (Riak's ORSWOT; the AWSet of Almeida et al.). Each present
// element carries the dots of the adds that support it; the set carries one
// causal context. Remove drops the dots it has seen, so an add concurrent
// with a remove survives it (add wins), and a removed element costs nothing
// once its dots are in the context's version vector.
//
// Mutators apply to the set and return the delta to send to other replicas;
// a delta is itself an ORSet and merges like a full state.
//
// Use [NewORSet]; the zero value is also an empty set ready to use. An ORSet
// is not safe for concurrent use.
type ORSet struct{ s dotStore[struct{}] }

func pickNone(struct{}, struct{}) struct{} { return struct{}{} }

// NewORSet returns an empty set.
func NewORSet() *ORSet { return &ORSet{s: dotStore[struct{}]{pick: pickNone}} }

func (o *ORSet) store() *dotStore[struct{}] {
	if o.s.pick == nil {
		o.s.pick = pickNone
	}
	return &o.s
}

// Add adds e on behalf of replica r and returns the delta.
func (o *ORSet) Add(r ReplicaID, e string) *ORSet {
	return &ORSet{s: o.store().add(r, e, struct{}{})}
}

// Remove removes e on behalf of replica r, as far as r has seen it, and
// returns the delta. Removing an absent element returns an empty delta.
func (o *ORSet) Remove(r ReplicaID, e string) *ORSet { return &ORSet{s: o.store().remove(r, e)} }

// Contains reports whether e is in the set.
func (o *ORSet) Contains(e string) bool { _, ok := o.s.keys[e]; return ok }

// Len returns the number of elements.
func (o *ORSet) Len() int { return len(o.s.keys) }

// Elements returns the elements in byte order.
func (o *ORSet) Elements() []string { return o.s.sortedKeys() }

// All iterates over the elements in byte order.
func (o *ORSet) All() iter.Seq[string] { return slices.Values(o.s.sortedKeys()) }

// Merge joins other (a state or a delta) into o. other is not modified.
func (o *ORSet) Merge(other *ORSet) { o.store().merge(other.store()) }

// Context returns the set's causal context (read-only: do not modify it).
func (o *ORSet) Context() *CausalContext { return &o.s.ctx }

// Clone returns a deep copy of o.
func (o *ORSet) Clone() *ORSet { return &ORSet{s: o.store().clone()} }

// Kind returns [KindORSet].
func (o *ORSet) Kind() Kind { return KindORSet }

// AppendBinary appends the canonical encoding of o.
func (o *ORSet) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindORSet)
	return o.s.appendTo(b, func(b []byte, _ struct{}) []byte { return b }), nil
}

// MarshalBinary returns the canonical encoding of o.
func (o *ORSet) MarshalBinary() ([]byte, error) { return o.AppendBinary(nil) }

// UnmarshalBinary replaces o with the decoded state.
func (o *ORSet) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, KindORSet)
	n := NewORSet()
	n.s.decodeFrom(d, 0, func(*decoder) struct{} { return struct{}{} })
	if err := d.finish(); err != nil {
		return err
	}
	*o = *n
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (o *ORSet) Digest() [32]byte { return digest(o) }

func (*ORSet) isObject() {}
