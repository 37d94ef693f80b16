package crdt_test

import (
	"slices"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

const (
	siteA crdt.ReplicaID = 1
	siteB crdt.ReplicaID = 2
	siteC crdt.ReplicaID = 3
)

func ts(ms int64) crdt.Timestamp { return crdt.MakeTimestamp(ms, 0) }

func TestORSet(t *testing.T) {
	tests := []struct {
		name string
		run  func(a, b *crdt.ORSet)
		want []string // elements of a after a.Merge(b) and b.Merge(a)
	}{
		{"an add is seen by the other site", func(a, b *crdt.ORSet) {
			a.Add(siteA, "x")
		}, []string{"x"}},
		{"a concurrent add wins over a remove", func(a, b *crdt.ORSet) {
			b.Merge(a.Add(siteA, "x"))
			a.Add(siteA, "x") // re-add with a new dot, not seen by b
			b.Remove(siteB, "x")
		}, []string{"x"}},
		{"concurrent adds at two sites and a remove at one keep the other's add", func(a, b *crdt.ORSet) {
			a.Add(siteA, "x")
			b.Add(siteB, "x")
			a.Remove(siteA, "x")
		}, []string{"x"}},
		{"a remove after seeing every add removes the element", func(a, b *crdt.ORSet) {
			a.Add(siteA, "x")
			b.Add(siteB, "x")
			b.Merge(a)
			b.Remove(siteB, "x")
		}, nil},
		{"an element can be added again after its removal", func(a, b *crdt.ORSet) {
			b.Merge(a.Add(siteA, "x"))
			a.Merge(b.Remove(siteB, "x"))
			b.Merge(a.Add(siteA, "x"))
		}, []string{"x"}},
		{"removing an absent element changes nothing", func(a, b *crdt.ORSet) {
			a.Add(siteA, "y")
			b.Remove(siteB, "x")
		}, []string{"y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := crdt.NewORSet(), crdt.NewORSet()
			tt.run(a, b)
			a.Merge(b)
			b.Merge(a)
			if got := a.Elements(); !slices.Equal(got, tt.want) {
				t.Errorf("Elements() = %q, want %q", got, tt.want)
			}
			if a.Digest() != b.Digest() {
				t.Errorf("sites differ after exchanging states: %q vs %q", a.Elements(), b.Elements())
			}
		})
	}
}

func TestORSetForgetsRemovedElements(t *testing.T) {
	s := crdt.NewORSet()
	for range 100 {
		s.Add(siteA, "x")
		s.Remove(siteA, "x")
	}
	if s.Len() != 0 || len(s.Context().Cloud()) != 0 {
		t.Errorf("after 100 add/remove: Len() = %d, cloud = %v; want an empty set with no tombstones", s.Len(), s.Context().Cloud())
	}
	if vv := s.Context().VersionVector(); vv[siteA] != 200 {
		t.Errorf("VersionVector()[A] = %d, want 200 (one dot per add and per remove)", vv[siteA])
	}
}

func TestORMap(t *testing.T) {
	type want struct {
		value     string
		present   bool
		conflicts int
	}
	tests := []struct {
		name string
		run  func(a, b *crdt.ORMap)
		want want // key "k" after the sites exchange states
	}{
		{"a put is read back", func(a, b *crdt.ORMap) {
			a.Put(siteA, ts(10), "k", []byte("v1"))
		}, want{"v1", true, 0}},
		{"a later put replaces the value", func(a, b *crdt.ORMap) {
			a.Put(siteA, ts(10), "k", []byte("v1"))
			a.Put(siteA, ts(11), "k", []byte("v2"))
		}, want{"v2", true, 0}},
		{"concurrent puts: the later hybrid time wins", func(a, b *crdt.ORMap) {
			a.Put(siteA, ts(20), "k", []byte("from-a"))
			b.Put(siteB, ts(10), "k", []byte("from-b"))
		}, want{"from-a", true, 1}},
		{"concurrent puts at equal time: the higher replica id wins", func(a, b *crdt.ORMap) {
			a.Put(siteA, ts(10), "k", []byte("from-a"))
			b.Put(siteB, ts(10), "k", []byte("from-b"))
		}, want{"from-b", true, 1}},
		{"a put after seeing a conflict resolves it", func(a, b *crdt.ORMap) {
			a.Put(siteA, ts(10), "k", []byte("from-a"))
			b.Put(siteB, ts(10), "k", []byte("from-b"))
			a.Merge(b)
			a.Put(siteA, ts(30), "k", []byte("settled"))
		}, want{"settled", true, 0}},
		{"a put concurrent with a delete survives it", func(a, b *crdt.ORMap) {
			b.Merge(a.Put(siteA, ts(10), "k", []byte("v1")))
			a.Put(siteA, ts(20), "k", []byte("v2"))
			b.Delete(siteB, "k")
		}, want{"v2", true, 0}},
		{"a delete after seeing the put removes the key", func(a, b *crdt.ORMap) {
			b.Merge(a.Put(siteA, ts(10), "k", []byte("v1")))
			b.Delete(siteB, "k")
		}, want{"", false, 0}},
		{"an empty value is a present key", func(a, b *crdt.ORMap) {
			a.Put(siteA, ts(10), "k", nil)
		}, want{"", true, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := crdt.NewORMap(), crdt.NewORMap()
			tt.run(a, b)
			a.Merge(b)
			b.Merge(a)
			e, ok := a.Lookup("k")
			if got := (want{string(e.Value), ok, e.Conflicts}); got != tt.want {
				t.Errorf("Lookup(k) = %+v, want %+v", got, tt.want)
			}
			if a.Digest() != b.Digest() {
				t.Errorf("sites differ after exchanging states")
			}
		})
	}
}

func TestORMapPutCopiesValue(t *testing.T) {
	m := crdt.NewORMap()
	v := []byte("abc")
	m.Put(siteA, ts(1), "k", v)
	v[0] = 'X'
	if got, _ := m.Get("k"); string(got) != "abc" {
		t.Errorf("Get(k) after caller changed its slice = %q, want %q", got, "abc")
	}
}

func TestORMapAllAndKeys(t *testing.T) {
	m := crdt.NewORMap()
	m.Put(siteA, ts(1), "b", []byte("2"))
	m.Put(siteA, ts(2), "a", []byte("1"))
	var got []string
	for k, v := range m.All() {
		got = append(got, k+"="+string(v))
	}
	if want := []string{"a=1", "b=2"}; !slices.Equal(got, want) {
		t.Errorf("All() = %q, want %q", got, want)
	}
	if got := m.Keys(); !slices.Equal(got, []string{"a", "b"}) || m.Len() != 2 {
		t.Errorf("Keys() = %q, Len() = %d", got, m.Len())
	}
}

func TestLWWSet(t *testing.T) {
	s := func(ms int64, r crdt.ReplicaID) crdt.Stamp { return crdt.Stamp{Time: ts(ms), Replica: r} }
	tests := []struct {
		name string
		run  func(a, b *crdt.LWWSet)
		want []string
	}{
		{"an add is seen", func(a, b *crdt.LWWSet) { a.Add(s(1, siteA), "x") }, []string{"x"}},
		{"a later remove wins over an earlier add", func(a, b *crdt.LWWSet) {
			a.Add(s(1, siteA), "x")
			b.Remove(s(2, siteB), "x")
		}, nil},
		{"a later add wins over an earlier remove, even unseen", func(a, b *crdt.LWWSet) {
			b.Remove(s(1, siteB), "x")
			a.Add(s(2, siteA), "x")
		}, []string{"x"}},
		{"equal times are ordered by replica id", func(a, b *crdt.LWWSet) {
			a.Remove(s(5, siteA), "x")
			b.Add(s(5, siteB), "x")
		}, []string{"x"}},
		{"equal stamps favour add", func(a, b *crdt.LWWSet) {
			a.Remove(s(5, siteA), "x")
			b.Add(s(5, siteA), "x")
		}, []string{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b crdt.LWWSet
			tt.run(&a, &b)
			a.Merge(&b)
			b.Merge(&a)
			if got := a.Elements(); !slices.Equal(got, tt.want) || a.Len() != len(tt.want) {
				t.Errorf("Elements() = %q (Len %d), want %q", got, a.Len(), tt.want)
			}
			if a.Digest() != b.Digest() {
				t.Errorf("sites differ after exchanging states")
			}
		})
	}
}

func TestLWWRegister(t *testing.T) {
	var a, b crdt.LWWRegister
	a.Set(crdt.Stamp{Time: ts(10), Replica: siteA}, []byte("a"))
	d := b.Set(crdt.Stamp{Time: ts(10), Replica: siteB}, []byte("b"))
	stale := a.Set(crdt.Stamp{Time: ts(5), Replica: siteA}, []byte("old"))
	a.Merge(d)
	b.Merge(stale)
	b.Merge(&a)
	for name, r := range map[string]*crdt.LWWRegister{"a": &a, "b": &b} {
		v, st := r.Get()
		if string(v) != "b" || st != (crdt.Stamp{Time: ts(10), Replica: siteB}) {
			t.Errorf("site %s Get() = %q, %v; want the higher replica's write", name, v, st)
		}
	}
}

func TestCounters(t *testing.T) {
	var ga, gb crdt.GCounter
	d1 := ga.Add(siteA, 3)
	gb.Add(siteB, 4)
	gb.Merge(d1)
	gb.Merge(d1) // duplicate delivery counts once
	ga.Merge(&gb)
	if ga.Value() != 7 || gb.Value() != 7 || ga.Count(siteA) != 3 {
		t.Errorf("GCounter values = %d, %d (A's count %d), want 7, 7 (3)", ga.Value(), gb.Value(), ga.Count(siteA))
	}
	if d := ga.Add(siteA, 0); d.Value() != 0 {
		t.Errorf("Add(0) delta = %d, want empty", d.Value())
	}
	var sat crdt.GCounter
	sat.Add(siteA, ^uint64(0))
	sat.Add(siteA, 5)
	if sat.Value() != ^uint64(0) {
		t.Errorf("GCounter after overflow = %d, want saturated", sat.Value())
	}

	var pa, pb crdt.PNCounter
	pb.Merge(pa.Add(siteA, 10))
	pa.Merge(pb.Add(siteB, -15))
	pa.Add(siteA, 0)
	pb.Merge(&pa)
	if pa.Value() != -5 || pb.Value() != -5 {
		t.Errorf("PNCounter values = %d, %d, want -5", pa.Value(), pb.Value())
	}
	var lo crdt.PNCounter
	lo.Add(siteA, -1<<63)
	if lo.Value() != -1<<63 {
		t.Errorf("PNCounter.Add(MinInt64) value = %d", lo.Value())
	}
}

func TestCausalContext(t *testing.T) {
	var c crdt.CausalContext
	c.Add(crdt.Dot{Replica: siteA, Counter: 1})
	c.Add(crdt.Dot{Replica: siteA, Counter: 3})
	c.Add(crdt.Dot{Replica: siteA, Counter: 4})
	if got := c.Cloud(); len(got) != 2 {
		t.Fatalf("Cloud() with a gap at 2 = %v, want dots 3 and 4", got)
	}
	if c.Contains(crdt.Dot{Replica: siteA, Counter: 2}) || !c.Contains(crdt.Dot{Replica: siteA, Counter: 3}) {
		t.Errorf("Contains: 2 should be missing and 3 present")
	}
	if got := c.Next(siteA); got.Counter != 5 {
		t.Errorf("Next(A) = %v, want counter 5", got)
	}
	var o crdt.CausalContext
	o.Add(crdt.Dot{Replica: siteA, Counter: 1})
	o.Add(crdt.Dot{Replica: siteA, Counter: 2})
	o.Add(crdt.Dot{Replica: siteB, Counter: 1})
	c.Merge(&o)
	if got := c.VersionVector(); got[siteA] != 4 || got[siteB] != 1 || len(c.Cloud()) != 0 {
		t.Errorf("after filling the gap: vv = %v, cloud = %v; want A:4 B:1 and no cloud", got, c.Cloud())
	}
	if !c.VersionVector().Dominates(o.VersionVector()) || o.VersionVector().Dominates(c.VersionVector()) {
		t.Errorf("Dominates: merged context must dominate its part, not the reverse")
	}
}

func TestReplicaIDFromName(t *testing.T) {
	a, b := crdt.ReplicaIDFromName("ctyun/cn-north-1"), crdt.ReplicaIDFromName("huawei/cn-east-3")
	if a == 0 || b == 0 || a == b || a != crdt.ReplicaIDFromName("ctyun/cn-north-1") {
		t.Errorf("ReplicaIDFromName: %v, %v; want stable, distinct and non-zero", a, b)
	}
}

func TestORMapSettle(t *testing.T) {
	a, b, c := crdt.NewORMap(), crdt.NewORMap(), crdt.NewORMap()
	da := a.Put(siteA, ts(10), "k", []byte("from-a"))
	db := b.Put(siteB, ts(20), "k", []byte("from-b")) // the winner
	a.Merge(db)
	b.Merge(da)
	if d := a.Settle(siteA, "k"); d != nil {
		t.Errorf("Settle by a site that did not write the winner = %v, want nil", d.Keys())
	}
	settle := b.Settle(siteB, "k")
	if settle == nil {
		t.Fatalf("Settle by the winner's writer = nil, want a delta")
	}
	// c wrote concurrently with the settle, later than the winner: the
	// settle must not beat it.
	c.Put(siteC, ts(30), "k", []byte("from-c"))
	for _, m := range []*crdt.ORMap{a, b, c} {
		m.Merge(settle)
		m.Merge(da)
		m.Merge(db)
	}
	a.Merge(c)
	b.Merge(c)
	c.Merge(a)
	for name, m := range map[string]*crdt.ORMap{"a": a, "b": b, "c": c} {
		e, _ := m.Lookup("k")
		if string(e.Value) != "from-c" || e.Conflicts != 1 {
			t.Errorf("site %s: k = %q with %d conflicts, want from-c with 1 (the settled winner)", name, e.Value, e.Conflicts)
		}
	}
	if d := b.Settle(siteB, "k"); d != nil {
		t.Errorf("b settled again although c's write now wins")
	}
	if d := c.Settle(siteC, "k"); d == nil {
		t.Errorf("c did not settle its winning write")
	}
	if e, _ := c.Lookup("k"); e.Conflicts != 0 || e.Stamp != (crdt.Stamp{Time: ts(30), Replica: siteC}) {
		t.Errorf("after c settles: %+v, want no conflicts and c's original stamp", e)
	}
}
