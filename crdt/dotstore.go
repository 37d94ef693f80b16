package crdt

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// dotted is one value carried by a dot.
type dotted[V any] struct {
	dot Dot
	val V
}

// dotStore is the causal core shared by [ORSet] and [ORMap]: each key maps to
// the dots (with values) that currently support it, plus the causal context
// of everything seen. Its join is the dot-map join of Almeida et al.
// (section 7.1): a dot survives if both sides have it, or if one side has it
// and the other has not seen it. A dot seen by one side but absent from its
// store was removed there, and so is removed everywhere; no tombstone is
// needed.
type dotStore[V any] struct {
	keys  map[string][]dotted[V] // sorted by dot, never empty
	index map[Dot]string         // dot -> key, for removing by context
	ctx   CausalContext
	// pick chooses between two values under the same dot. Reachable states
	// never disagree (a dot is issued once); decoded input might, so the
	// choice must be deterministic for the join to commute.
	pick func(a, b V) V
}

func (s *dotStore[V]) init() {
	if s.keys == nil {
		s.keys = make(map[string][]dotted[V])
		s.index = make(map[Dot]string)
	}
}

func (s *dotStore[V]) lookup(key string, d Dot) (V, bool) {
	es := s.keys[key]
	i, ok := slices.BinarySearchFunc(es, d, func(e dotted[V], d Dot) int { return e.dot.Compare(d) })
	if !ok {
		var zero V
		return zero, false
	}
	return es[i].val, true
}

func (s *dotStore[V]) insert(key string, e dotted[V]) {
	s.init()
	es := s.keys[key]
	i, ok := slices.BinarySearchFunc(es, e.dot, func(e dotted[V], d Dot) int { return e.dot.Compare(d) })
	if ok {
		es[i].val = s.pick(es[i].val, e.val)
		return
	}
	// Copy so that no two stores share a backing array.
	n := make([]dotted[V], 0, len(es)+1)
	n = append(n, es[:i]...)
	n = append(n, e)
	n = append(n, es[i:]...)
	s.keys[key] = n
	s.index[e.dot] = key
}

func (s *dotStore[V]) removeDot(key string, d Dot) {
	es := s.keys[key]
	i, ok := slices.BinarySearchFunc(es, d, func(e dotted[V], d Dot) int { return e.dot.Compare(d) })
	if !ok {
		return
	}
	delete(s.index, d)
	if len(es) == 1 {
		delete(s.keys, key)
		return
	}
	n := make([]dotted[V], 0, len(es)-1)
	n = append(n, es[:i]...)
	n = append(n, es[i+1:]...)
	s.keys[key] = n
}

// merge joins o into s. o is not modified and shares no memory with s
// afterwards except immutable values.
func (s *dotStore[V]) merge(o *dotStore[V]) {
	if s == o {
		return
	}
	// 1. Dots of s that o has seen but no longer holds were removed by o.
	// Walk whichever is smaller: o's context (a delta's is a handful of
	// dots) or s's index (a full state's context is large).
	dead := func(d Dot, key string) bool {
		if !o.ctx.Contains(d) {
			return false
		}
		_, held := o.lookup(key, d)
		return !held
	}
	var drop []dotted[string]
	if o.ctx.size() <= uint64(len(s.index)) {
		o.ctx.dots(func(d Dot) bool {
			if key, ok := s.index[d]; ok && dead(d, key) {
				drop = append(drop, dotted[string]{d, key})
			}
			return true
		})
	} else {
		for d, key := range s.index {
			if dead(d, key) {
				drop = append(drop, dotted[string]{d, key})
			}
		}
	}
	for _, x := range drop {
		s.removeDot(x.val, x.dot)
	}
	// 2. Dots of o that s holds too, or has not seen, are kept.
	for key, es := range o.keys {
		for _, e := range es {
			if _, held := s.lookup(key, e.dot); held || !s.ctx.Contains(e.dot) {
				s.insert(key, e)
			}
		}
	}
	// 3. Everything either side has seen.
	s.ctx.Merge(&o.ctx)
}

// delta returns the delta that replaces key's dots by one new dot of r
// carrying v (v's zero-ness is the caller's business), applies it to s and
// returns it.
func (s *dotStore[V]) add(r ReplicaID, key string, v V) dotStore[V] {
	d := s.ctx.Next(r)
	delta := dotStore[V]{pick: s.pick}
	delta.insert(key, dotted[V]{d, v})
	for _, e := range s.keys[key] {
		delta.ctx.Add(e.dot)
	}
	delta.ctx.Add(d)
	s.merge(&delta)
	return delta
}

// remove returns the delta that removes every dot of key seen here, applies
// it to s and returns it. Adds of key that s has not seen survive it: add
// wins. The remove consumes a dot of r of its own, held by no key: that way
// every event is in the context, so two replicas with equal contexts hold
// equal states, and comparing contexts is enough for anti-entropy to see
// who is behind. Removing an absent key is no event and returns an empty
// delta.
func (s *dotStore[V]) remove(r ReplicaID, key string) dotStore[V] {
	delta := dotStore[V]{pick: s.pick}
	es := s.keys[key]
	if len(es) == 0 {
		return delta
	}
	for _, e := range es {
		delta.ctx.Add(e.dot)
	}
	delta.ctx.Add(s.ctx.Next(r))
	s.merge(&delta)
	return delta
}

func (s *dotStore[V]) clone() dotStore[V] {
	c := dotStore[V]{pick: s.pick, ctx: s.ctx.Clone()}
	if len(s.keys) > 0 {
		c.keys = make(map[string][]dotted[V], len(s.keys))
		c.index = make(map[Dot]string, len(s.index))
		for k, es := range s.keys {
			c.keys[k] = slices.Clone(es)
		}
		for d, k := range s.index {
			c.index[d] = k
		}
	}
	return c
}

// sortedKeys returns the keys in byte order.
func (s *dotStore[V]) sortedKeys() []string {
	ks := make([]string, 0, len(s.keys))
	for k := range s.keys {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// appendTo writes the store canonically: replica table and context, then
// keys in byte order, each with its dots in order and their values.
func (s *dotStore[V]) appendTo(b []byte, appendVal func([]byte, V) []byte) []byte {
	t := newReplicaTable(&s.ctx)
	b = t.appendContext(b, &s.ctx)
	b = binary.AppendUvarint(b, uint64(len(s.keys)))
	for _, k := range s.sortedKeys() {
		es := s.keys[k]
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(es)))
		for _, e := range es {
			b = t.appendDot(b, e.dot)
			b = appendVal(b, e.val)
		}
	}
	return b
}

// decodeFrom reads what appendTo wrote into an empty s, refusing anything
// non-canonical or inconsistent: keys out of order, empty keys, dots out of
// order, a dot under two keys, a dot not covered by the context.
func (s *dotStore[V]) decodeFrom(d *decoder, minVal int, decodeVal func(*decoder) V) {
	ids, ctx := d.decodeContext()
	s.ctx = ctx
	nkeys := d.count("key count", 3+minVal)
	var prevKey string
	for i := range nkeys {
		at := d.off
		key := string(d.bytes("key", MaxKeyLen))
		if d.err != nil {
			return
		}
		if i > 0 && key <= prevKey {
			d.off = at
			d.fail(fmt.Sprintf("key %q not after %q", key, prevKey), ErrMalformed)
			return
		}
		prevKey = key
		n := d.count("dot count", 2+minVal)
		if d.err == nil && n == 0 {
			d.fail(fmt.Sprintf("key %q has no dots", key), ErrMalformed)
		}
		var prev Dot
		for j := range n {
			at := d.off
			dt := d.dot(ids, "entry dot")
			v := decodeVal(d)
			if d.err != nil {
				return
			}
			switch _, dup := s.index[dt]; {
			case j > 0 && dt.Compare(prev) <= 0:
				d.off = at
				d.fail(fmt.Sprintf("key %q: dots not strictly increasing", key), ErrMalformed)
				return
			case dup:
				d.off = at
				d.fail(fmt.Sprintf("key %q: dot %v also under another key", key, dt), ErrMalformed)
				return
			case !s.ctx.Contains(dt):
				d.off = at
				d.fail(fmt.Sprintf("key %q: dot %v not covered by the causal context", key, dt), ErrMalformed)
				return
			}
			prev = dt
			s.insert(key, dotted[V]{dt, v})
		}
	}
}
