package crdt

import "fmt"

// maxStripDots bounds the work Novel does on a dotted type's context; a
// delta with a larger context (a full state) is returned whole.
const maxStripDots = 1 << 16

// Novel returns the part of delta that would change have: have ⊔ novel
// equals have ⊔ delta, and novel is empty (ok false) when delta brings
// nothing new. A replica runs it on every received delta before applying,
// storing or announcing it; it is the "remove redundant state" fix of Enes
// et al. ("Efficient Synchronization of State-based CRDTs", ICDE 2019),
// which keeps delta propagation from degrading to full-state cost. have and
// delta are not modified; they must be of the same kind (else [ErrKind]).
func Novel(have, delta Object) (novel Object, ok bool, err error) {
	switch h := have.(type) {
	case *GCounter:
		if d, is := delta.(*GCounter); is {
			n := h.novel(d)
			return n, len(n.n) > 0, nil
		}
	case *PNCounter:
		if d, is := delta.(*PNCounter); is {
			n := &PNCounter{p: *h.p.novel(&d.p), n: *h.n.novel(&d.n)}
			return n, len(n.p.n)+len(n.n.n) > 0, nil
		}
	case *LWWRegister:
		if d, is := delta.(*LWWRegister); is {
			if h.wins(d.stamp, d.value) {
				return d.Clone(), true, nil
			}
			return new(LWWRegister), false, nil
		}
	case *LWWSet:
		if d, is := delta.(*LWWSet); is {
			n := &LWWSet{}
			for e, x := range d.e {
				cur := h.e[e]
				var y lwwElem
				// A stamp at or before h's compaction frontier is
				// already reflected in h (Merge ignores it).
				if x.add.Compare(cur.add) > 0 && (h.floor == 0 || x.add.Time > h.floor) {
					y.add = x.add
				}
				if x.rem.Compare(cur.rem) > 0 && (h.floor == 0 || x.rem.Time > h.floor) {
					y.rem = x.rem
				}
				n.update(e, y)
			}
			if d.floor > h.floor {
				n.floor = d.floor
			}
			return n, len(n.e) > 0 || n.floor != 0, nil
		}
	case *ORSet:
		if d, is := delta.(*ORSet); is {
			n := &ORSet{s: h.store().novel(d.store())}
			return n, n.s.ctx.size() > 0, nil
		}
	case *ORMap:
		if d, is := delta.(*ORMap); is {
			n := &ORMap{s: h.store().novel(d.store())}
			return n, n.s.ctx.size() > 0, nil
		}
	}
	return nil, false, fmt.Errorf("crdt: novel part of %v against %v: %w", delta.Kind(), have.Kind(), ErrKind)
}

func (g *GCounter) novel(d *GCounter) *GCounter {
	n := &GCounter{}
	for r, v := range d.n {
		if v > g.n[r] {
			if n.n == nil {
				n.n = make(map[ReplicaID]uint64)
			}
			n.n[r] = v
		}
	}
	return n
}

// novel returns the part of d that changes s: entries whose dot s has not
// seen, context dots s has not seen, and context dots that remove an entry
// s still holds.
func (s *dotStore[V]) novel(d *dotStore[V]) dotStore[V] {
	if d.ctx.size() > maxStripDots {
		return d.clone()
	}
	n := dotStore[V]{pick: s.pick}
	d.ctx.dots(func(dt Dot) bool {
		seen := s.ctx.Contains(dt)
		if key, held := d.index[dt]; held {
			if !seen {
				v, _ := d.lookup(key, dt)
				n.insert(key, dotted[V]{dt, v})
				n.ctx.Add(dt)
			}
			return true
		}
		if _, have := s.index[dt]; !seen || have {
			n.ctx.Add(dt)
		}
		return true
	})
	return n
}
