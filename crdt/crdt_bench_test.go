package crdt_test

import (
	"fmt"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

// mutators make the benchmarks' operations per kind: element i of a
// workload of distinct keys, as replica r.
var mutators = map[crdt.Kind]func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object{
	crdt.KindGCounter: func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object { return o.(*crdt.GCounter).Add(r, 1) },
	crdt.KindPNCounter: func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object {
		return o.(*crdt.PNCounter).Add(r, int64(i%3)-1)
	},
	crdt.KindLWWRegister: func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object {
		return o.(*crdt.LWWRegister).Set(crdt.Stamp{Time: crdt.Timestamp(i + 1), Replica: r}, []byte("value-0123456789"))
	},
	crdt.KindLWWSet: func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object {
		return o.(*crdt.LWWSet).Add(crdt.Stamp{Time: crdt.Timestamp(i + 1), Replica: r}, benchKey(i))
	},
	crdt.KindORSet: func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object { return o.(*crdt.ORSet).Add(r, benchKey(i)) },
	crdt.KindORMap: func(o crdt.Object, r crdt.ReplicaID, i int) crdt.Object {
		return o.(*crdt.ORMap).Put(r, crdt.Timestamp(i+1), benchKey(i), benchValue)
	},
}

// benchKey is a 16-byte key; benchValue a 32-byte value.
func benchKey(i int) string { return fmt.Sprintf("key-%012d", i%1_000_000) }

var benchValue = []byte("0123456789abcdef0123456789abcdef")

// BenchmarkDeltaApply measures a remote replica applying one delta made by
// a local write, the per-write cost of replication.
func BenchmarkDeltaApply(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			src, _ := crdt.New(k)
			dst, _ := crdt.New(k)
			const batch = 4096
			deltas := make([]crdt.Object, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%batch == 0 {
					b.StopTimer()
					for j := range deltas {
						deltas[j] = mutators[k](src, 1, i+j)
					}
					b.StartTimer()
				}
				_ = crdt.Merge(dst, deltas[i%batch])
			}
		})
	}
}

// BenchmarkMutate measures a local write producing its delta.
func BenchmarkMutate(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			o, _ := crdt.New(k)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				mutators[k](o, 1, i)
			}
		})
	}
}

// fullStates returns two replicas' states of n elements each that share
// nine tenths of their history: what anti-entropy merges.
func fullStates(k crdt.Kind, n int) (a, b crdt.Object) {
	a, _ = crdt.New(k)
	for i := range n * 9 / 10 {
		mutators[k](a, 1, i)
	}
	b = crdt.Clone(a)
	for i := n * 9 / 10; i < n; i++ {
		mutators[k](a, 1, i)
		mutators[k](b, 2, i+n)
	}
	return a, b
}

// BenchmarkMergeState measures joining a full state of 1,000 elements into
// a copy of a replica that has seen 90% of it; the copy is part of the
// measured work (BenchmarkClone gives its share).
func BenchmarkMergeState(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			x, y := fullStates(k, 1000)
			b.ReportAllocs()
			for b.Loop() {
				_ = crdt.Merge(crdt.Clone(x), y)
			}
		})
	}
}

// BenchmarkMergeStateSeen measures joining a full state of 1,000 elements
// into a replica that already has all of it: the common anti-entropy case.
func BenchmarkMergeStateSeen(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			x, y := fullStates(k, 1000)
			_ = crdt.Merge(x, y)
			b.ReportAllocs()
			for b.Loop() {
				_ = crdt.Merge(x, y)
			}
		})
	}
}

func BenchmarkClone(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			x, _ := fullStates(k, 1000)
			b.ReportAllocs()
			for b.Loop() {
				crdt.Clone(x)
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			x, _ := fullStates(k, 1000)
			buf, _ := x.AppendBinary(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = x.AppendBinary(buf[:0])
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, k := range allKinds {
		b.Run(k.String(), func(b *testing.B) {
			x, _ := fullStates(k, 1000)
			buf, _ := x.AppendBinary(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := crdt.Decode(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkORMapMetadata reports the KV namespace's metadata bytes (encoded
// size minus key and value bytes) per payload byte, for 10,000 keys of 16
// bytes with 32-byte values: written by one site, by three sites in turn,
// and by three sites concurrently so every key holds a conflict. The issue
// targets metadata <= 2x payload (Redis Active-Active's bound).
func BenchmarkORMapMetadata(b *testing.B) {
	const n = 10_000
	cases := []struct {
		name  string
		build func() *crdt.ORMap
	}{
		{"one-writer", func() *crdt.ORMap {
			m := crdt.NewORMap()
			for i := range n {
				m.Put(1, crdt.MakeTimestamp(1_764_000_000_000+int64(i), 0), benchKey(i), benchValue)
			}
			return m
		}},
		{"three-writers", func() *crdt.ORMap {
			m := crdt.NewORMap()
			for i := range n {
				m.Put(crdt.ReplicaIDFromName(fmt.Sprint(i%3)), crdt.MakeTimestamp(1_764_000_000_000+int64(i), 0), benchKey(i), benchValue)
			}
			return m
		}},
		{"three-concurrent-writers", func() *crdt.ORMap {
			ms := []*crdt.ORMap{crdt.NewORMap(), crdt.NewORMap(), crdt.NewORMap()}
			for s, m := range ms {
				for i := range n {
					m.Put(crdt.ReplicaIDFromName(fmt.Sprint(s)), crdt.MakeTimestamp(1_764_000_000_000+int64(i), 0), benchKey(i), benchValue)
				}
			}
			ms[0].Merge(ms[1])
			ms[0].Merge(ms[2])
			return ms[0]
		}},
		{"three-concurrent-writers-settled", func() *crdt.ORMap {
			ms := []*crdt.ORMap{crdt.NewORMap(), crdt.NewORMap(), crdt.NewORMap()}
			for s, m := range ms {
				for i := range n {
					m.Put(crdt.ReplicaIDFromName(fmt.Sprint(s)), crdt.MakeTimestamp(1_764_000_000_000+int64(i), 0), benchKey(i), benchValue)
				}
			}
			ms[0].Merge(ms[1])
			ms[0].Merge(ms[2])
			// What the winners' sites do on receiving the conflicting deltas.
			for i := range n {
				for s := range ms {
					ms[0].Settle(crdt.ReplicaIDFromName(fmt.Sprint(s)), benchKey(i))
				}
			}
			return ms[0]
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				m := c.build()
				enc, _ := m.MarshalBinary()
				size = len(enc)
			}
			payload := n * (len(benchKey(0)) + len(benchValue))
			b.ReportMetric(float64(size-payload)/float64(payload), "meta/payload")
			b.ReportMetric(float64(size-payload)/n, "metaB/key")
		})
	}
}

func BenchmarkClockNow(b *testing.B) {
	c := crdt.NewClock(nil, 0)
	b.ReportAllocs()
	for b.Loop() {
		c.Now()
	}
}

// BenchmarkLWWSetCompact compacts a set of 10,000 elements of which every
// other one is removed, to a frontier past every stamp: the cost of one
// garbage-collection round on one object.
func BenchmarkLWWSetCompact(b *testing.B) {
	var base crdt.LWWSet
	for i := range 10_000 {
		base.Add(crdt.Stamp{Time: crdt.Timestamp(2*i + 1), Replica: 1}, benchKey(i))
		if i%2 == 0 {
			base.Remove(crdt.Stamp{Time: crdt.Timestamp(2*i + 2), Replica: 1}, benchKey(i))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := base.Clone()
		b.StartTimer()
		if s.Compact(crdt.Timestamp(1<<40)) != 5_000 {
			b.Fatal("Compact dropped the wrong number of elements")
		}
	}
}

// BenchmarkLWWSetMergeCompacted applies a one-element delta to a compacted
// set: the per-delta path, with the frontier check.
func BenchmarkLWWSetMergeCompacted(b *testing.B) {
	var s crdt.LWWSet
	for i := range 1000 {
		s.Add(crdt.Stamp{Time: crdt.Timestamp(i + 1), Replica: 1}, benchKey(i))
	}
	s.Remove(crdt.Stamp{Time: 2000, Replica: 1}, benchKey(0))
	s.Compact(3000)
	d := (&crdt.LWWSet{}).Add(crdt.Stamp{Time: 5000, Replica: 2}, benchKey(7))
	b.ReportAllocs()
	for b.Loop() {
		s.Merge(d)
	}
}
