package replica

import (
	"fmt"

	"github.com/duohuo/duohuo/crdt"
)

// Txn is what an [Store.Update] function sees of one object: reads of its
// state before the update and mutators that are applied, all together,
// only if the function returns nil. Reads do not see the Txn's own writes.
// The first mutator fixes the kind of an object that does not exist yet.
//
// A mutator whose argument exceeds a limit (see [MaxKeyLen],
// [MaxValueLen]), or an addition that would overflow the counter, fails
// the whole update with an error wrapping [ErrTooLarge] or
// [crdt.ErrOverflow], and nothing is applied.
//
// A Txn is valid only during the call and not safe for concurrent use.
type Txn struct {
	key     string
	id      crdt.ReplicaID
	obj     crdt.Object // current state, nil if the object does not exist
	ops     []func(o crdt.Object, id crdt.ReplicaID, now func() crdt.Timestamp) crdt.Object
	k       crdt.Kind
	err     error
	growth  int             // bound on what the ops add to the encoded object
	counter *crdt.PNCounter // the counter as the Adds so far leave it, to check the next
}

// Key returns the object's name.
func (t *Txn) Key() string { return t.key }

// Object returns the object's state before the update, nil if it does not
// exist. It must not be modified.
func (t *Txn) Object() crdt.Object { return t.obj }

// fail records the first error; the update then applies nothing.
func (t *Txn) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// check fails the update if an argument exceeds its limit, and counts what
// the op may add to the object's encoding.
func (t *Txn) check(what string, n, limit int) bool {
	if err := checkLen(what, n, limit); err != nil {
		t.fail(fmt.Errorf("%w (object %q)", err, t.key))
		return false
	}
	t.growth += n
	return true
}

func (t *Txn) op(k crdt.Kind, f func(o crdt.Object, id crdt.ReplicaID, now func() crdt.Timestamp) crdt.Object) {
	t.growth += opOverhead
	want := k
	if t.obj != nil {
		want = t.obj.Kind()
	} else if t.k != 0 {
		want = t.k
	}
	if want != k {
		t.fail(fmt.Errorf("replica: %s on %q, which is a %v: %w", k, t.key, want, crdt.ErrKind))
		return
	}
	t.k = k
	t.ops = append(t.ops, f)
}

// Put sets map key k to a copy of v (an [crdt.ORMap] object).
func (t *Txn) Put(k string, v []byte) {
	if !t.check("map key", len(k), MaxKeyLen) || !t.check("value", len(v), MaxValueLen) {
		return
	}
	v = append([]byte{}, v...)
	t.op(crdt.KindORMap, func(o crdt.Object, id crdt.ReplicaID, now func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.ORMap).Put(id, now(), k, v)
	})
}

// Delete removes map key k (an [crdt.ORMap] object).
func (t *Txn) Delete(k string) {
	t.op(crdt.KindORMap, func(o crdt.Object, id crdt.ReplicaID, _ func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.ORMap).Delete(id, k)
	})
}

// Add adds n, possibly negative, to a counter (a [crdt.PNCounter] object).
// An addition that would take the counter's value out of the int64 range
// fails the update with an error wrapping [crdt.ErrOverflow] (see
// [crdt.PNCounter.TryAdd]): a counter never wraps.
func (t *Txn) Add(n int64) {
	if t.counter == nil {
		t.counter = new(crdt.PNCounter)
		if c, ok := t.obj.(*crdt.PNCounter); ok {
			t.counter = c.Clone()
		}
	}
	if _, err := t.counter.TryAdd(t.id, n); err != nil {
		t.fail(fmt.Errorf("replica: add %d to counter %q: %w", n, t.key, err))
		return
	}
	t.op(crdt.KindPNCounter, func(o crdt.Object, id crdt.ReplicaID, _ func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.PNCounter).Add(id, n)
	})
}

// SetAdd adds e to a set (a [crdt.ORSet] object).
func (t *Txn) SetAdd(e string) {
	if !t.check("set member", len(e), MaxKeyLen) {
		return
	}
	t.op(crdt.KindORSet, func(o crdt.Object, id crdt.ReplicaID, _ func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.ORSet).Add(id, e)
	})
}

// SetRemove removes e from a set (a [crdt.ORSet] object).
func (t *Txn) SetRemove(e string) {
	t.op(crdt.KindORSet, func(o crdt.Object, id crdt.ReplicaID, _ func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.ORSet).Remove(id, e)
	})
}

// Set writes a copy of v to a register (a [crdt.LWWRegister] object).
func (t *Txn) Set(v []byte) {
	if !t.check("value", len(v), MaxValueLen) {
		return
	}
	v = append([]byte{}, v...)
	t.op(crdt.KindLWWRegister, func(o crdt.Object, id crdt.ReplicaID, now func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.LWWRegister).Set(crdt.Stamp{Time: now(), Replica: id}, v)
	})
}

// LWWAdd adds e to a last-writer-wins element set (a [crdt.LWWSet] object,
// kept for compatibility; prefer [Txn.SetAdd]).
func (t *Txn) LWWAdd(e string) {
	if !t.check("set element", len(e), MaxKeyLen) {
		return
	}
	t.op(crdt.KindLWWSet, func(o crdt.Object, id crdt.ReplicaID, now func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.LWWSet).Add(crdt.Stamp{Time: now(), Replica: id}, e)
	})
}

// LWWRemove removes e from a last-writer-wins element set (a [crdt.LWWSet]
// object). The tombstone it leaves is collected once every member site has
// seen it (see [Store.Stable]).
func (t *Txn) LWWRemove(e string) {
	// The tombstone keeps e, so it is bounded like an add.
	if !t.check("set element", len(e), MaxKeyLen) {
		return
	}
	t.op(crdt.KindLWWSet, func(o crdt.Object, id crdt.ReplicaID, now func() crdt.Timestamp) crdt.Object {
		return o.(*crdt.LWWSet).Remove(crdt.Stamp{Time: now(), Replica: id}, e)
	})
}
