package replica

import (
	"context"
	"fmt"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

// TestAntiEntropySendsOnlyDifferencesOlderThanAnInterval drives the policy
// of compare directly: a peer that lacks writes made since the last
// rotation (deltas in flight) gets nothing; one that lacks a write this
// site has held for a whole interval gets the state; counters are sent
// whenever digests differ.
func TestAntiEntropySendsOnlyDifferencesOlderThanAnInterval(t *testing.T) {
	s, err := Open(context.Background(), Config{Name: "a", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(k string) {
		t.Helper()
		if err := s.Update(context.Background(), "kv", func(tx *Txn) error { tx.Put(k, []byte(k)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	peerWith := func() map[string]item { // what this site holds now, as a peer would report it
		m := map[string]item{}
		for _, it := range s.summary(^uint64(0)) {
			m[it.key] = it
		}
		return m
	}
	check := func(what string, theirs map[string]item, wantSend []string, wantDiffer bool) {
		t.Helper()
		send, differ := s.compare(theirs, ^uint64(0))
		if len(send) != len(wantSend) || differ != wantDiffer {
			t.Fatalf("%s: compare = %v, differ %v; want %v, differ %v", what, send, differ, wantSend, wantDiffer)
		}
		for i := range send {
			if send[i] != wantSend[i] {
				t.Fatalf("%s: compare = %v, want %v", what, send, wantSend)
			}
		}
	}

	put("a")
	check("a peer without kv, before any rotation", nil, nil, true)
	s.rotateContexts()
	check("a peer without kv, one rotation later", nil, nil, true)
	s.rotateContexts()
	check("a peer without kv, two rotations later", nil, []string{"kv"}, true)
	check("a peer with everything", peerWith(), nil, false)

	peer := peerWith() // the peer has "a"
	put("b")           // the peer has not received "b" yet
	check("a peer lacking a write younger than a rotation", peer, nil, true)
	s.rotateContexts()
	check("a peer lacking a write one rotation old", peer, nil, true)
	s.rotateContexts()
	check("a peer lacking a write two rotations old", peer, []string{"kv"}, true)

	// A peer that is ahead (has a write this site lacks) gets nothing but
	// a summary back.
	ahead := crdt.NewORMap()
	if err := s.Read("kv", func(o crdt.Object) error { ahead.Merge(o.(*crdt.ORMap)); return nil }); err != nil {
		t.Fatal(err)
	}
	ahead.Put(99, s.clock.Now(), "c", []byte("c"))
	check("a peer ahead", map[string]item{"kv": {key: "kv", digest: ahead.Digest(), ctx: ahead.Context()}}, nil, true)

	// Only the buckets a summary covers are compared.
	if send, differ := s.compare(nil, ^uint64(0)&^(1<<bucketOf("kv"))); len(send) != 0 || differ {
		t.Fatalf("compare outside kv's bucket = %v, differ %v; want nothing", send, differ)
	}

	// Counters have no context: sent whenever digests differ.
	if err := s.Update(context.Background(), "hits", func(tx *Txn) error { tx.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	theirs := peerWith()
	delete(theirs, "hits")
	check("a peer without a counter", theirs, []string{"hits"}, true)
}

// TestBucketDigestsPointAtWhatChanged checks that two stores with the same
// objects have equal bucket digests, and that a change shows in the
// changed object's bucket only.
func TestBucketDigestsPointAtWhatChanged(t *testing.T) {
	var stores [2]*Store
	for i := range stores {
		s, err := Open(context.Background(), Config{Name: "s", Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	for i := range 200 {
		if err := stores[0].Update(context.Background(), fmt.Sprintf("obj-%d", i), func(tx *Txn) error { tx.Set([]byte("same")); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range stores[0].Keys("") { // the second store receives them all
		o, _ := stores[0].Get(k)
		stores[1].apply("test", []record{{key: k, delta: o, birth: stores[0].kinds.births[k]}})
	}
	a, b := stores[0].bucketDigests(), stores[1].bucketDigests()
	if d := differingBuckets(&a, &b); d != 0 {
		t.Fatalf("equal objects, differing buckets %064b", d)
	}
	if err := stores[1].Update(context.Background(), "obj-7", func(tx *Txn) error { tx.Set([]byte("changed")); return nil }); err != nil {
		t.Fatal(err)
	}
	b = stores[1].bucketDigests()
	if d := differingBuckets(&a, &b); d != 1<<bucketOf("obj-7") {
		t.Fatalf("one object changed: differing buckets %064b, want only bucket %d", d, bucketOf("obj-7"))
	}
}
