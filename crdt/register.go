package crdt

import "bytes"

// LWWRegister is a last-writer-wins register holding a byte string: the
// write with the greatest [Stamp] wins. Two writes with equal stamps (which
// a [Clock] and unique replica ids never produce) are ordered by value, so
// the merge stays deterministic whatever it is fed.
//
// The zero value is an empty register ready to use. An LWWRegister is not
// safe for concurrent use.
type LWWRegister struct {
	stamp Stamp
	value []byte
}

func (g *LWWRegister) wins(s Stamp, v []byte) bool {
	if c := s.Compare(g.stamp); c != 0 {
		return c > 0
	}
	return bytes.Compare(v, g.value) > 0
}

// Set writes a copy of value with stamp s and returns the delta (the write
// itself). A write older than the current one changes nothing here, and its
// delta changes nothing anywhere that has seen the newer write.
func (g *LWWRegister) Set(s Stamp, value []byte) *LWWRegister {
	d := &LWWRegister{stamp: s, value: bytes.Clone(value)}
	g.Merge(d)
	return d
}

// Get returns the value and the stamp of the write that set it; the zero
// Stamp if the register was never written. The slice must not be modified.
func (g *LWWRegister) Get() ([]byte, Stamp) { return g.value, g.stamp }

// Merge joins other (a state or a delta) into g.
func (g *LWWRegister) Merge(other *LWWRegister) {
	if g.wins(other.stamp, other.value) {
		g.stamp, g.value = other.stamp, other.value
	}
}

// Clone returns a copy of g (the value is shared: it is immutable).
func (g *LWWRegister) Clone() *LWWRegister { c := *g; return &c }

// Kind returns [KindLWWRegister].
func (g *LWWRegister) Kind() Kind { return KindLWWRegister }

// AppendBinary appends the canonical encoding of g.
func (g *LWWRegister) AppendBinary(b []byte) ([]byte, error) {
	b = appendStamp(appendHeader(b, KindLWWRegister), g.stamp)
	return appendBytes(b, g.value), nil
}

// MarshalBinary returns the canonical encoding of g.
func (g *LWWRegister) MarshalBinary() ([]byte, error) { return g.AppendBinary(nil) }

// UnmarshalBinary replaces g with the decoded state.
func (g *LWWRegister) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, KindLWWRegister)
	s := d.stamp("stamp")
	v := d.bytes("value", MaxValueLen)
	if d.err == nil && s.IsZero() && len(v) > 0 {
		d.fail("value without a stamp", ErrMalformed)
	}
	if err := d.finish(); err != nil {
		return err
	}
	g.stamp, g.value = s, bytes.Clone(v)
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (g *LWWRegister) Digest() [32]byte { return digest(g) }

func (*LWWRegister) isObject() {}
