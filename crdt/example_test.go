package crdt_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

// Two sites hold the same set. While they cannot talk, Beijing removes
// "canary" and Shanghai adds it again: when they exchange deltas the add
// wins, because the remove only removed the add it had seen.
func ExampleORSet() {
	beijing, shanghai := crdt.ReplicaIDFromName("beijing"), crdt.ReplicaIDFromName("shanghai")
	bj, sh := crdt.NewORSet(), crdt.NewORSet()
	sh.Merge(bj.Add(beijing, "canary"))

	// Partitioned: each site changes its own copy.
	removed := bj.Remove(beijing, "canary")
	added := sh.Add(shanghai, "canary")

	// Healed: each applies the other's delta.
	bj.Merge(added)
	sh.Merge(removed)
	fmt.Println(bj.Elements(), sh.Elements(), bj.Digest() == sh.Digest())
	// Output: [canary] [canary] true
}

// Two sites write one key concurrently: the write with the later hybrid
// logical time wins everywhere.
func ExampleORMap() {
	bj, sh := crdt.NewORMap(), crdt.NewORMap()
	d1 := bj.Put(1, crdt.MakeTimestamp(1_000, 0), "gray/checkout", []byte("10%"))
	d2 := sh.Put(2, crdt.MakeTimestamp(1_005, 0), "gray/checkout", []byte("50%"))
	bj.Merge(d2)
	sh.Merge(d1)
	v1, _ := bj.Get("gray/checkout")
	v2, _ := sh.Get("gray/checkout")
	fmt.Printf("%s %s\n", v1, v2)
	// Output: 50% 50%
}

// A hybrid logical clock never goes back, even when the physical clock does.
func ExampleClock() {
	physical := time.UnixMilli(1_000)
	clock := crdt.NewClock(func() time.Time { return physical }, 0)
	fmt.Println(clock.Now())
	physical = time.UnixMilli(900) // NTP steps the clock back
	fmt.Println(clock.Now())
	remote, err := clock.Update(crdt.MakeTimestamp(1_200, 4))
	fmt.Println(remote, err)
	_, err = clock.Update(crdt.MakeTimestamp(60_000, 0))
	fmt.Println(err)
	// Output:
	// 1000.0
	// 1000.1
	// 1200.5 <nil>
	// crdt: remote clock 60000.0 is 59.1s ahead of local physical time, more than max offset 500ms
}

// Each site counts on its own; the counter's value is the same everywhere
// once the deltas have arrived, in whatever order and however often.
func ExamplePNCounter() {
	var a, b crdt.PNCounter
	d1 := a.Add(1, 5)
	d2 := b.Add(2, -2)
	a.Merge(d2)
	b.Merge(d1)
	b.Merge(d1) // delivered twice: counted once
	fmt.Println(a.Value(), b.Value())
	// Output: 3 3
}

// A removed element of an LWW-element set stays as a tombstone until every
// site has seen the removal; then Compact drops it, and a late copy of the
// old add (a duplicated or delayed delta) cannot bring it back.
func ExampleLWWSet_Compact() {
	site := crdt.ReplicaIDFromName("beijing")
	at := func(ms int64) crdt.Stamp { return crdt.Stamp{Time: crdt.MakeTimestamp(ms, 0), Replica: site} }
	var s crdt.LWWSet
	oldAdd := s.Add(at(1000), "canary")
	s.Remove(at(2000), "canary")
	fmt.Println(s.Elements(), s.Tombstones())

	// Every site has acknowledged everything stamped up to 3000.
	fmt.Println(s.Compact(crdt.MakeTimestamp(3000, 0)), s.Tombstones())
	s.Merge(oldAdd)
	fmt.Println(s.Elements())
	// Output:
	// [] 1
	// 1 0
	// []
}
