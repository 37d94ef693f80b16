package replica

import (
	"fmt"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

// resolveAll admits deltas in the given order as Store.apply and recovery
// do, and describes the outcome: the object's kind, state and birth, and
// what is aside.
func resolveAll(deltas []record, order []int) string {
	objs := map[string]crdt.Object{}
	kt := newKindTable()
	for _, i := range order {
		r := deltas[i]
		if adm, _, _ := kt.admit(objs, r.key, r.birth, r.delta, time.Unix(0, 0)); adm == admitMerge {
			if o, ok := objs[r.key]; ok {
				_ = crdt.Merge(o, r.delta)
			} else {
				objs[r.key] = crdt.Clone(r.delta)
			}
		}
	}
	o := objs["x"]
	out := fmt.Sprintf("%v %x born %v;", o.Kind(), o.Digest(), kt.births["x"])
	for k := crdt.KindGCounter; k <= crdt.KindORMap; k++ {
		if a, ok := kt.aside["x"][k]; ok {
			out += fmt.Sprintf(" aside %v %x born %v", k, a.obj.Digest(), a.birth)
		}
	}
	return out
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// Whatever order the deltas of a kind conflict arrive in, every site ends
// with the same object (the kind born first), the same birth (the least of
// that kind's) and the same states aside: the resolution is a join.
func TestKindResolutionIgnoresDeliveryOrder(t *testing.T) {
	at := func(ms int64, r crdt.ReplicaID) crdt.Stamp {
		return crdt.Stamp{Time: crdt.MakeTimestamp(ms, 0), Replica: r}
	}
	counter := func(r crdt.ReplicaID, n int64) crdt.Object { var c crdt.PNCounter; c.Add(r, n); return &c }
	set := func(r crdt.ReplicaID, e string) crdt.Object { s := crdt.NewORSet(); s.Add(r, e); return s }
	reg := func(r crdt.ReplicaID, v string) crdt.Object {
		g := new(crdt.LWWRegister)
		g.Set(crdt.Stamp{Time: crdt.MakeTimestamp(9, 0), Replica: r}, []byte(v))
		return g
	}
	deltas := []record{
		{key: "x", birth: at(20, 1), delta: counter(1, 2)},
		{key: "x", birth: at(10, 3), delta: set(3, "a")},   // the set is born first
		{key: "x", birth: at(15, 2), delta: counter(2, 5)}, // a counter born earlier elsewhere
		{key: "x", birth: at(12, 3), delta: set(3, "b")},   // the set created at another site too, later
		{key: "x", birth: at(30, 4), delta: reg(4, "v")},
	}
	want := ""
	for _, p := range permutations(len(deltas)) {
		got := resolveAll(deltas, p)
		if want == "" {
			want = got
			continue
		}
		if got != want {
			t.Fatalf("order %v: %s\nwant (order 0 1 2 3 4): %s", p, got, want)
		}
	}
	if kind := resolveAll(deltas, []int{0, 1, 2, 3, 4}); kind[:5] != "orset" {
		t.Errorf("outcome %s, want the orset, born first", kind)
	}
}
