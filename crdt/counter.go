package crdt

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/bits"
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
// delta. It never fails: a replica's increments and decrements each
// saturate at 2^64-1, and [PNCounter.Value] at the int64 bounds. Writers
// that must not lose count use [PNCounter.TryAdd].
func (c *PNCounter) Add(r ReplicaID, n int64) *PNCounter {
	switch {
	case n > 0:
		return &PNCounter{p: *c.p.Add(r, uint64(n))}
	case n < 0:
		return &PNCounter{n: *c.n.Add(r, uint64(-(n+1))+1)}
	}
	return &PNCounter{}
}

// TryAdd is [PNCounter.Add] for a writer that must not lose count: it
// refuses, with an error wrapping [ErrOverflow] and changing nothing, an
// addition after which the counter's value would leave the int64 range or
// replica r's own increments or decrements would exceed 2^64-1.
func (c *PNCounter) TryAdd(r ReplicaID, n int64) (*PNCounter, error) {
	own, mag, what := c.p.n[r], uint64(n), "increments"
	switch {
	case n < 0:
		own, mag, what = c.n.n[r], uint64(-(n+1))+1, "decrements"
	case n == 0:
		return &PNCounter{}, nil
	}
	if own+mag < own {
		return nil, fmt.Errorf("crdt: add %d: this replica's %s would exceed 2^64-1: %w", n, what, ErrOverflow)
	}
	hi, lo := c.diff()
	// The value after the addition, in 128 bits: (hi, lo) + n.
	nlo, carry := bits.Add64(lo, uint64(n), 0)
	nhi := hi + carry
	if n < 0 {
		nhi-- // sign extension of n
	}
	if !fitsInt64(nhi, nlo) {
		return nil, fmt.Errorf("crdt: add %d to %d: the value would leave the int64 range [%d, %d]: %w", n, c.Value(), int64(math.MinInt64), int64(math.MaxInt64), ErrOverflow)
	}
	return c.Add(r, n), nil
}

// sum128 returns the exact sum of g's counts as a 128-bit number.
func (g *GCounter) sum128() (hi, lo uint64) {
	for _, v := range g.n {
		var carry uint64
		lo, carry = bits.Add64(lo, v, 0)
		hi += carry
	}
	return hi, lo
}

// diff returns increments minus decrements exactly, as a 128-bit two's
// complement number (hi, lo).
func (c *PNCounter) diff() (hi, lo uint64) {
	phi, plo := c.p.sum128()
	nhi, nlo := c.n.sum128()
	lo, borrow := bits.Sub64(plo, nlo, 0)
	hi, _ = bits.Sub64(phi, nhi, borrow)
	return hi, lo
}

// fitsInt64 reports whether the 128-bit two's complement (hi, lo) is an
// int64.
func fitsInt64(hi, lo uint64) bool {
	return hi == 0 && lo <= math.MaxInt64 || hi == ^uint64(0) && lo > math.MaxInt64
}

// Value returns increments minus decrements. It is exact while the true
// value fits in an int64, however large the increments and decrements
// themselves; beyond that (merged counts of several replicas can get there
// even when each replica stays in range) it saturates at math.MaxInt64 or
// math.MinInt64 rather than wrapping, and [PNCounter.Saturated] reports it.
func (c *PNCounter) Value() int64 {
	hi, lo := c.diff()
	switch {
	case fitsInt64(hi, lo):
		return int64(lo)
	case int64(hi) < 0:
		return math.MinInt64
	default:
		return math.MaxInt64
	}
}

// Saturated reports whether [PNCounter.Value] is clamped: the true value is
// outside the int64 range.
func (c *PNCounter) Saturated() bool { return !fitsInt64(c.diff()) }

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
