package replica

import (
	"context"
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
		for _, it := range s.summary() {
			m[it.key] = it
		}
		return m
	}
	check := func(what string, theirs map[string]item, wantSend []string, wantDiffer bool) {
		t.Helper()
		send, differ := s.compare(theirs)
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

	// Counters have no context: sent whenever digests differ.
	if err := s.Update(context.Background(), "hits", func(tx *Txn) error { tx.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	theirs := peerWith()
	delete(theirs, "hits")
	check("a peer without a counter", theirs, []string{"hits"}, true)
}
