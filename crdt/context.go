package crdt

import (
	"maps"
	"slices"
)

// VersionVector maps each replica to the highest counter such that all of
// that replica's dots up to it have been seen. A nil VersionVector is empty.
type VersionVector map[ReplicaID]uint64

// Dominates reports whether v has seen everything o has.
func (v VersionVector) Dominates(o VersionVector) bool {
	for r, n := range o {
		if v[r] < n {
			return false
		}
	}
	return true
}

// CausalContext is the set of dots a state has seen: a version vector for
// the contiguous prefix of each replica's dots plus a "dot cloud" for the
// dots received out of order. Adding the missing dot compacts the cloud into
// the vector, so a replica that receives every delta carries only the
// vector. Observed-remove types use it to drop an element without keeping a
// tombstone: an element whose dot is in the context but not in the state was
// removed (Riak's ORSWOT; Almeida et al., section 7.2).
//
// The zero value is an empty context ready to use. A CausalContext is not
// safe for concurrent use.
type CausalContext struct {
	vv    VersionVector
	cloud map[Dot]struct{} // dots with Counter > vv[Replica]+1; never empty entries
}

// Contains reports whether d has been seen.
func (c *CausalContext) Contains(d Dot) bool {
	if d.Counter <= c.vv[d.Replica] {
		return true
	}
	_, ok := c.cloud[d]
	return ok
}

// Max returns the highest counter of r seen, in the vector or the cloud.
func (c *CausalContext) Max(r ReplicaID) uint64 {
	n := c.vv[r]
	for d := range c.cloud {
		if d.Replica == r && d.Counter > n {
			n = d.Counter
		}
	}
	return n
}

// Next returns the next dot of r: one past the highest counter of r seen.
// It does not add it.
func (c *CausalContext) Next(r ReplicaID) Dot { return Dot{r, c.Max(r) + 1} }

// Add records d as seen.
func (c *CausalContext) Add(d Dot) {
	if d.Counter == 0 || c.Contains(d) {
		return
	}
	if d.Counter == c.vv[d.Replica]+1 {
		if c.vv == nil {
			c.vv = make(VersionVector)
		}
		c.vv[d.Replica] = d.Counter
		c.compactReplica(d.Replica)
		return
	}
	if c.cloud == nil {
		c.cloud = make(map[Dot]struct{})
	}
	c.cloud[d] = struct{}{}
}

// Merge adds every dot of o to c.
func (c *CausalContext) Merge(o *CausalContext) {
	for r, n := range o.vv {
		if n > c.vv[r] {
			if c.vv == nil {
				c.vv = make(VersionVector, len(o.vv))
			}
			c.vv[r] = n
		}
	}
	for d := range o.cloud {
		if c.cloud == nil {
			c.cloud = make(map[Dot]struct{}, len(o.cloud))
		}
		c.cloud[d] = struct{}{}
	}
	// The vector may have grown past cloud dots, and cloud dots may now
	// extend the vector. Deleting during range is safe in Go.
	for d := range c.cloud {
		if d.Counter <= c.vv[d.Replica] {
			delete(c.cloud, d)
		}
	}
	for d := range c.cloud {
		c.compactReplica(d.Replica)
	}
}

// compactReplica moves the cloud dots of r that extend the vector into it.
func (c *CausalContext) compactReplica(r ReplicaID) {
	for {
		next := Dot{r, c.vv[r] + 1}
		if _, ok := c.cloud[next]; !ok {
			return
		}
		delete(c.cloud, next)
		if c.vv == nil {
			c.vv = make(VersionVector)
		}
		c.vv[r] = next.Counter
	}
}

// VersionVector returns a copy of the contiguous part of the context. Two
// replicas compare these to find what the other is missing.
func (c *CausalContext) VersionVector() VersionVector { return maps.Clone(c.vv) }

// Cloud returns the dots seen out of order, sorted.
func (c *CausalContext) Cloud() []Dot {
	ds := slices.Collect(maps.Keys(c.cloud))
	slices.SortFunc(ds, Dot.Compare)
	return ds
}

// Clone returns a deep copy of c.
func (c *CausalContext) Clone() CausalContext {
	return CausalContext{vv: maps.Clone(c.vv), cloud: maps.Clone(c.cloud)}
}

// size returns how many dots c holds, saturating at max uint64.
func (c *CausalContext) size() uint64 {
	n := uint64(len(c.cloud))
	for _, v := range c.vv {
		if n+v < n {
			return ^uint64(0)
		}
		n += v
	}
	return n
}

// dots calls yield for every dot of c until it returns false. Only use it
// when size is known to be small.
func (c *CausalContext) dots(yield func(Dot) bool) {
	for r, n := range c.vv {
		for i := uint64(1); i <= n; i++ {
			if !yield(Dot{r, i}) {
				return
			}
		}
	}
	for d := range c.cloud {
		if !yield(d) {
			return
		}
	}
}

// Equal reports whether c and o hold the same dots. For [ORSet] and [ORMap]
// states reached by their mutators and merges, equal contexts mean equal
// states.
func (c *CausalContext) Equal(o *CausalContext) bool {
	return maps.Equal(c.vv, o.vv) && maps.Equal(c.cloud, o.cloud)
}

// Includes reports whether c has seen every dot o has seen. A replica whose
// context includes another's has nothing to learn from that replica's
// [ORSet] or [ORMap] state as it was when o was taken.
func (c *CausalContext) Includes(o *CausalContext) bool {
	for r, n := range o.vv {
		have := c.vv[r]
		if have >= n {
			continue
		}
		// The rest of o's prefix must be in c's cloud: impossible if the
		// cloud is smaller than the gap.
		if n-have > uint64(len(c.cloud)) {
			return false
		}
		for i := have + 1; i <= n; i++ {
			if _, ok := c.cloud[Dot{r, i}]; !ok {
				return false
			}
		}
	}
	for d := range o.cloud {
		if !c.Contains(d) {
			return false
		}
	}
	return true
}

// kindContext marks an encoded [CausalContext]; it is no object kind.
const kindContext Kind = 0

// AppendBinary appends the canonical encoding of c: the format version, a
// zero kind byte, then the replica table, the version vector and the dot
// cloud, as inside an encoded [ORSet] or [ORMap].
func (c *CausalContext) AppendBinary(b []byte) ([]byte, error) {
	b = appendHeader(b, kindContext)
	return newReplicaTable(c).appendContext(b, c), nil
}

// MarshalBinary returns the canonical encoding of c.
func (c *CausalContext) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// UnmarshalBinary replaces c with the decoded context. It never panics, and
// refuses non-canonical input like the object decoders.
func (c *CausalContext) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, kindContext)
	var n CausalContext
	if d.err == nil {
		_, n = d.decodeContext()
	}
	if err := d.finish(); err != nil {
		return err
	}
	*c = n
	return nil
}
