package crdt

import (
	"cmp"
	"fmt"
	"hash/fnv"
)

// ReplicaID names one replica (one site's copy of the state). It is a
// uint64, not a string, because every dot and stamp carries one: the
// encoding writes each distinct id once per state and refers to it by a
// small index, so ids cost almost nothing however they are chosen. Derive
// one from a stable site name with [ReplicaIDFromName], or assign small
// numbers. Two live replicas must never share an id, and a replica that
// lost its state must come back under a new id (its old dots would be
// reused otherwise). Zero is not a valid id.
type ReplicaID uint64

// ReplicaIDFromName returns a ReplicaID derived from name with 64-bit
// FNV-1a, never zero. With a few dozen sites the chance of a collision is
// below 1e-16.
func ReplicaIDFromName(name string) ReplicaID {
	h := fnv.New64a()
	h.Write([]byte(name))
	if id := ReplicaID(h.Sum64()); id != 0 {
		return id
	}
	return 1
}

// String returns the id in hexadecimal.
func (r ReplicaID) String() string { return fmt.Sprintf("%016x", uint64(r)) }

// Dot identifies one event: the Counter-th event of Replica (counters start
// at 1). Dots are what observed-remove types use to tell "removed after
// seeing this add" from "not yet seen" (Almeida et al., "Delta State
// Replicated Data Types", section 7).
type Dot struct {
	Replica ReplicaID
	Counter uint64
}

// Compare orders dots by replica, then counter.
func (d Dot) Compare(o Dot) int {
	if c := cmp.Compare(d.Replica, o.Replica); c != 0 {
		return c
	}
	return cmp.Compare(d.Counter, o.Counter)
}

// String returns "replica:counter".
func (d Dot) String() string { return fmt.Sprintf("%s:%d", d.Replica, d.Counter) }

// Stamp orders last-writer-wins writes: by hybrid logical time, and between
// equal times by replica id (the higher id wins). A [Clock] never issues the
// same Timestamp twice, so two different writes have different Stamps as
// long as replica ids are unique. The zero Stamp is before every write.
type Stamp struct {
	Time    Timestamp
	Replica ReplicaID
}

// Compare returns -1, 0 or +1 as s is before, equal to or after o.
func (s Stamp) Compare(o Stamp) int {
	if c := cmp.Compare(s.Time, o.Time); c != 0 {
		return c
	}
	return cmp.Compare(s.Replica, o.Replica)
}

// IsZero reports whether s is the zero Stamp.
func (s Stamp) IsZero() bool { return s == Stamp{} }

// String returns "time@replica".
func (s Stamp) String() string { return s.Time.String() + "@" + s.Replica.String() }
