package crdt

import (
	"encoding/binary"
	"maps"
	"slices"
)

// GCounter is a grow-only counter: one monotonic count per replica, merged
// by taking the maximum of each, valued at their sum. It needs no causal
// delivery: its deltas (the new count of one replica) merge in any order.
//
// The zero value is a counter at 0 ready to use. A GCounter is not safe for
// concurrent use.
type GCounter struct {
	n map[ReplicaID]uint64 // never holds zero counts
}

// Add adds n on behalf of replica r and returns the delta. A replica's count
// saturates at 2^64-1 rather than wrapping.
func (g *GCounter) Add(r ReplicaID, n uint64) *GCounter {
	if n == 0 {
		return &GCounter{}
	}
	v := g.n[r] + n
	if v < n {
		v = ^uint64(0)
	}
	if g.n == nil {
		g.n = make(map[ReplicaID]uint64)
	}
	g.n[r] = v
	return &GCounter{n: map[ReplicaID]uint64{r: v}}
}

// Value returns the sum of all replicas' counts, saturating at 2^64-1.
func (g *GCounter) Value() uint64 {
	var s uint64
	for _, v := range g.n {
		if s+v < s {
			return ^uint64(0)
		}
		s += v
	}
	return s
}

// Count returns replica r's own count.
func (g *GCounter) Count(r ReplicaID) uint64 { return g.n[r] }

// Merge joins other (a state or a delta) into g.
func (g *GCounter) Merge(other *GCounter) {
	for r, v := range other.n {
		if v > g.n[r] {
			if g.n == nil {
				g.n = make(map[ReplicaID]uint64, len(other.n))
			}
			g.n[r] = v
		}
	}
}

// Clone returns a deep copy of g.
func (g *GCounter) Clone() *GCounter { return &GCounter{n: maps.Clone(g.n)} }

// Kind returns [KindGCounter].
func (g *GCounter) Kind() Kind { return KindGCounter }

func (g *GCounter) appendBody(b []byte) []byte {
	rs := slices.Sorted(maps.Keys(g.n))
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for _, r := range rs {
		b = binary.AppendUvarint(b, uint64(r))
		b = binary.AppendUvarint(b, g.n[r])
	}
	return b
}

func (g *GCounter) decodeBody(d *decoder, what string) {
	n := d.count(what+" replica count", 2)
	var prev ReplicaID
	for range n {
		at := d.off
		r := ReplicaID(d.uvarint(what + " replica"))
		v := d.uvarint(what + " count")
		if d.err != nil {
			return
		}
		if r <= prev || v == 0 {
			d.off = at
			d.fail(what+": replicas not strictly increasing or zero count", ErrMalformed)
			return
		}
		prev = r
		if g.n == nil {
			g.n = make(map[ReplicaID]uint64, n)
		}
		g.n[r] = v
	}
}

// AppendBinary appends the canonical encoding of g.
func (g *GCounter) AppendBinary(b []byte) ([]byte, error) {
	return g.appendBody(appendHeader(b, KindGCounter)), nil
}

// MarshalBinary returns the canonical encoding of g.
func (g *GCounter) MarshalBinary() ([]byte, error) { return g.AppendBinary(nil) }

// UnmarshalBinary replaces g with the decoded state.
func (g *GCounter) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, KindGCounter)
	var n GCounter
	n.decodeBody(d, "counts")
	if err := d.finish(); err != nil {
		return err
	}
	*g = n
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (g *GCounter) Digest() [32]byte { return digest(g) }

func (*GCounter) isObject() {}

// PNCounter is a counter that goes up and down: two [GCounter]s, one of
// increments and one of decrements, valued at their difference. Like the
// GCounter its deltas need no causal delivery.
//
// The zero value is a counter at 0 ready to use. A PNCounter is not safe for
// concurrent use.
type PNCounter struct{ p, n GCounter }

// Add adds n (which may be negative) on behalf of replica r and returns the
// delta.
func (c *PNCounter) Add(r ReplicaID, n int64) *PNCounter {
	switch {
	case n > 0:
		return &PNCounter{p: *c.p.Add(r, uint64(n))}
	case n < 0:
		return &PNCounter{n: *c.n.Add(r, uint64(-(n+1))+1)}
	}
	return &PNCounter{}
}

// Value returns increments minus decrements, in two's complement: it is
// exact while the true value fits in an int64.
func (c *PNCounter) Value() int64 { return int64(c.p.Value() - c.n.Value()) }

// Merge joins other (a state or a delta) into c.
func (c *PNCounter) Merge(other *PNCounter) {
	c.p.Merge(&other.p)
	c.n.Merge(&other.n)
}

// Clone returns a deep copy of c.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{p: *c.p.Clone(), n: *c.n.Clone()}
}

// Kind returns [KindPNCounter].
func (c *PNCounter) Kind() Kind { return KindPNCounter }

// AppendBinary appends the canonical encoding of c.
func (c *PNCounter) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, KindPNCounter)
	return c.n.appendBody(c.p.appendBody(b)), nil
}

// MarshalBinary returns the canonical encoding of c.
func (c *PNCounter) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// UnmarshalBinary replaces c with the decoded state.
func (c *PNCounter) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, KindPNCounter)
	var n PNCounter
	n.p.decodeBody(d, "increments")
	n.n.decodeBody(d, "decrements")
	if err := d.finish(); err != nil {
		return err
	}
	*c = n
	return nil
}

// Digest returns the SHA-256 of the canonical encoding.
func (c *PNCounter) Digest() [32]byte { return digest(c) }

func (*PNCounter) isObject() {}
