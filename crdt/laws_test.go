package crdt_test

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

var allKinds = []crdt.Kind{crdt.KindGCounter, crdt.KindPNCounter, crdt.KindLWWRegister, crdt.KindLWWSet, crdt.KindORSet, crdt.KindORMap}

// history simulates replicas of one kind exchanging deltas and states. Every
// state it produces is reachable, so the laws must hold between any of them.
type history struct {
	kind     crdt.Kind
	replicas []crdt.Object
	clocks   []*crdt.Clock
	skew     []int64 // per-replica clock offset, ms
	now      int64   // shared physical time, ms
	deltas   []crdt.Object
	pending  [][]crdt.Object // per destination replica, not yet delivered
}

func newHistory(k crdt.Kind, n int) *history {
	h := &history{kind: k, now: 1_000_000}
	for i := range n {
		o, err := crdt.New(k)
		if err != nil {
			panic(err)
		}
		h.replicas = append(h.replicas, o)
		h.skew = append(h.skew, int64(i*7))
		h.clocks = append(h.clocks, crdt.NewClock(func() time.Time { return time.UnixMilli(h.now + h.skew[i]) }, time.Hour))
		h.pending = append(h.pending, nil)
	}
	return h
}

func (h *history) id(i int) crdt.ReplicaID { return crdt.ReplicaID(i + 1) }

// mutate applies a local operation chosen by op and arg at replica i and
// queues its delta for every other replica.
func (h *history) mutate(i int, op, arg byte) {
	r, clk := h.id(i), h.clocks[i]
	key := string(rune('a' + arg%4))
	val := []byte{arg}
	var d crdt.Object
	switch o := h.replicas[i].(type) {
	case *crdt.GCounter:
		d = o.Add(r, uint64(arg%5))
	case *crdt.PNCounter:
		d = o.Add(r, int64(arg%9)-4)
	case *crdt.LWWRegister:
		d = o.Set(crdt.Stamp{Time: clk.Now(), Replica: r}, val)
	case *crdt.LWWSet:
		st := crdt.Stamp{Time: clk.Now(), Replica: r}
		if op%2 == 0 {
			d = o.Add(st, key)
		} else {
			d = o.Remove(st, key)
		}
	case *crdt.ORSet:
		if op%3 != 0 {
			d = o.Add(r, key)
		} else {
			d = o.Remove(r, key)
		}
	case *crdt.ORMap:
		switch {
		case op%5 == 4:
			sd := o.Settle(r, key)
			if sd == nil {
				return
			}
			d = sd
		case op%3 != 0:
			d = o.Put(r, clk.Now(), key, val)
		default:
			d = o.Delete(r, key)
		}
	}
	h.deltas = append(h.deltas, d)
	for j := range h.pending {
		if j != i {
			h.pending[j] = append(h.pending[j], d)
		}
	}
}

// deliver merges a pending delta at replica j: the arg-th one, kept for a
// second delivery (duplication) or dropped (loss) as the flags say.
func (h *history) deliver(j int, arg byte, keep, drop bool) {
	q := h.pending[j]
	if len(q) == 0 {
		return
	}
	k := int(arg) % len(q)
	d := q[k]
	if !keep {
		h.pending[j] = append(q[:k:k], q[k+1:]...)
	}
	if drop {
		return
	}
	must(crdt.Merge(h.replicas[j], d))
}

// run interprets program two bytes at a time.
func (h *history) run(program []byte) {
	n := len(h.replicas)
	for p := 0; p+1 < len(program); p += 2 {
		op, arg := program[p], program[p+1]
		i := int(arg>>4) % n
		switch op % 8 {
		case 0, 1, 2:
			h.mutate(i, op/8, arg)
		case 3:
			h.deliver(i, arg, false, false)
		case 4:
			h.deliver(i, arg, true, false) // will arrive again
		case 5:
			h.deliver(i, arg, false, true) // lost
		case 6:
			j := (i + 1 + int(arg)%(n-1)) % n
			must(crdt.Merge(h.replicas[i], crdt.Clone(h.replicas[j])))
		case 7:
			h.now += int64(arg % 16) // time passes, sometimes not at all
		}
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func join(os ...crdt.Object) crdt.Object {
	acc := crdt.Clone(os[0])
	for _, o := range os[1:] {
		must(crdt.Merge(acc, o))
	}
	return acc
}

func describe(o crdt.Object) string {
	b, _ := o.AppendBinary(nil)
	return fmt.Sprintf("%x", b)
}

// checkLaws checks the join-semilattice laws between the replicas of h and
// that joining every delta, in a shuffled order with duplicates, equals
// joining every state.
func checkLaws(t *testing.T, h *history, rng *rand.Rand) {
	t.Helper()
	rs := h.replicas
	a, b, c := rs[0], rs[1%len(rs)], rs[2%len(rs)]
	eq := func(law string, x, y crdt.Object) {
		t.Helper()
		if x.Digest() != y.Digest() {
			t.Fatalf("%v: %s violated:\n  %s\n  %s", h.kind, law, describe(x), describe(y))
		}
	}
	eq("commutativity a⊔b = b⊔a", join(a, b), join(b, a))
	eq("associativity (a⊔b)⊔c = a⊔(b⊔c)", join(join(a, b), c), join(a, join(b, c)))
	eq("idempotence a⊔a = a", join(a, a), a)
	eq("absorption (a⊔b)⊔b = a⊔b", join(join(a, b), b), join(a, b))

	all := join(rs...)
	empty, _ := crdt.New(h.kind)
	for _, x := range rs {
		eq("every state is below the join of all", join(all, x), all)
	}
	order := rng.Perm(len(h.deltas))
	for range len(h.deltas) / 3 {
		order = append(order, rng.IntN(max(len(h.deltas), 1)))
	}
	fromDeltas := crdt.Clone(empty)
	for _, k := range order {
		if k < len(h.deltas) {
			must(crdt.Merge(fromDeltas, h.deltas[k]))
		}
	}
	eq("deltas in any order with duplicates = join of full states", fromDeltas, all)

	for _, x := range rs {
		for _, d := range h.deltas {
			nv, ok, err := crdt.Novel(x, d)
			if err != nil {
				t.Fatalf("%v: Novel: %v", h.kind, err)
			}
			eq("x ⊔ Novel(x, δ) = x ⊔ δ", join(x, nv), join(x, d))
			if !ok && join(x, d).Digest() != x.Digest() {
				t.Fatalf("%v: Novel said nothing new but δ changes x", h.kind)
			}
			if _, again, _ := crdt.Novel(join(x, d), d); again {
				t.Fatalf("%v: Novel(x ⊔ δ, δ) is not empty", h.kind)
			}
		}
		if x.Kind() == crdt.KindORSet || x.Kind() == crdt.KindORMap {
			for _, y := range rs {
				if sameContext(x, y) && x.Digest() != y.Digest() {
					t.Fatalf("%v: equal causal contexts but different states:\n  %s\n  %s", h.kind, describe(x), describe(y))
				}
			}
		}
	}

	for _, x := range append(rs, all) {
		enc, _ := x.AppendBinary(nil)
		dec, err := crdt.Decode(enc)
		if err != nil {
			t.Fatalf("%v: Decode(own encoding %x) = %v", h.kind, enc, err)
		}
		re, _ := dec.AppendBinary(nil)
		if !bytes.Equal(re, enc) {
			t.Fatalf("%v: encoding not canonical after round trip:\n  %x\n  %x", h.kind, enc, re)
		}
	}
}

func sameContext(x, y crdt.Object) bool {
	ctx := func(o crdt.Object) *crdt.CausalContext {
		if s, ok := o.(*crdt.ORSet); ok {
			return s.Context()
		}
		return o.(*crdt.ORMap).Context()
	}
	a, b := ctx(x), ctx(y)
	if want := maps.Equal(a.VersionVector(), b.VersionVector()) && slices.Equal(a.Cloud(), b.Cloud()); a.Equal(b) != want {
		panic("CausalContext.Equal disagrees with its parts")
	}
	return a.Equal(b)
}

// converge runs anti-entropy rounds (every replica merges every other's
// state), as the replica package does after deltas were lost.
func converge(h *history) {
	for range 2 {
		for i := range h.replicas {
			for j := range h.replicas {
				if i != j {
					must(crdt.Merge(h.replicas[i], h.replicas[j]))
				}
			}
		}
	}
}

func TestLawsOnRandomHistories(t *testing.T) {
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			for seed := range uint64(150) {
				rng := rand.New(rand.NewPCG(seed, uint64(k)))
				program := make([]byte, 2*(20+rng.IntN(120)))
				for i := range program {
					program[i] = byte(rng.Uint32())
				}
				h := newHistory(k, 3+int(seed%3))
				h.run(program)
				checkLaws(t, h, rng)

				// Deliver what is left, losing some, then heal by state
				// merges: every replica must end on the same state.
				for j, q := range h.pending {
					for _, d := range q {
						if rng.IntN(4) != 0 {
							must(crdt.Merge(h.replicas[j], d))
						}
					}
				}
				want := join(h.replicas...).Digest()
				converge(h)
				for i, r := range h.replicas {
					if r.Digest() != want {
						t.Fatalf("seed %d: replica %d did not converge to the join of all states", seed, i)
					}
				}
			}
		})
	}
}

// lawSeeds are programs that exercise the interesting interleavings: local
// writes at several replicas, concurrent add and remove, duplicated and
// lost deltas, state merges, and time standing still.
var lawSeeds = [][]byte{
	{0, 0x00, 0, 0x10, 0, 0x21, 3, 0x10, 3, 0x20},
	{0, 0x01, 8, 0x01, 16, 0x11, 4, 0x10, 3, 0x10, 3, 0x10, 6, 0x20},
	{0, 0x02, 3, 0x10, 24, 0x12, 0, 0x22, 5, 0x00, 6, 0x01, 7, 0x00, 0, 0x03},
	{1, 0x05, 2, 0x15, 1, 0x25, 9, 0x05, 17, 0x15, 6, 0x00, 6, 0x10, 6, 0x20},
}

func FuzzLaws(f *testing.F) {
	for _, s := range lawSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		if len(program) > 4096 {
			return
		}
		for _, k := range allKinds {
			h := newHistory(k, 3)
			h.run(program)
			checkLaws(t, h, rand.New(rand.NewPCG(uint64(len(program)), 1)))
		}
	})
}
