package replica_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

// lwwSet returns a copy of the LWW-element set named key at s.
func lwwSet(t testing.TB, s *replica.Store, key string) *crdt.LWWSet {
	t.Helper()
	o, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q) on %s: %v", key, s.Name(), err)
	}
	return o.(*crdt.LWWSet)
}

func lwwUpdate(t testing.TB, s *replica.Store, key string, fn func(tx *replica.Txn)) {
	t.Helper()
	if err := s.Update(context.Background(), key, func(tx *replica.Txn) error { fn(tx); return nil }); err != nil {
		t.Fatalf("Update(%q) on %s: %v", key, s.Name(), err)
	}
}

// metric returns the value of the counter or gauge name in reg.
func metric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// collectedEverywhere reports whether every store in c holds want in set
// key and no tombstone.
func (c *cluster) collectedEverywhere(key string, want []string) func() bool {
	return func() bool {
		for _, s := range c.stores {
			set := lwwSet(c.t, s, key)
			if set.Tombstones() != 0 || !slices.Equal(set.Elements(), want) {
				return false
			}
		}
		return true
	}
}

func TestTombstoneCollectedOnceEverySiteAcknowledged(t *testing.T) {
	c := newCluster(t, 3)
	lwwUpdate(t, c.stores[0], "legacy", func(tx *replica.Txn) { tx.LWWAdd("x"); tx.LWWAdd("y") })
	c.waitFor("the adds everywhere", 10*time.Second, c.converged)
	// The remove is stamped at or after this (hybrid time runs at or
	// ahead of wall time).
	removed := crdt.MakeTimestamp(time.Now().UnixMilli(), 0)
	lwwUpdate(t, c.stores[1], "legacy", func(tx *replica.Txn) { tx.LWWRemove("x") })

	took := c.waitFor("the tombstone collected on every site", 20*time.Second, c.collectedEverywhere("legacy", []string{"y"}))
	t.Logf("tombstone collected everywhere %v after the remove", took)
	c.waitFor("identical digests", 10*time.Second, c.converged)
	// A site may get the collection through a compacted state before its
	// own frontier passes the remove; every frontier gets there.
	c.waitFor("every frontier past the remove, nothing pending", 10*time.Second, func() bool {
		for i, s := range c.stores {
			if s.Stable() <= removed || metric(t, c.regs[i], "duohuo_replica_gc_pending") != 0 {
				return false
			}
		}
		return true
	})
	collected := 0.0
	for i := range c.stores {
		collected += metric(t, c.regs[i], "duohuo_replica_gc_collected_total")
		if f := metric(t, c.regs[i], "duohuo_replica_gc_frontier_seconds"); f < float64(removed.WallMillis())/1000 {
			t.Errorf("%s: duohuo_replica_gc_frontier_seconds = %v, before the remove", c.stores[i].Name(), f)
		}
	}
	if collected < 1 {
		t.Errorf("duohuo_replica_gc_collected_total summed over sites = %v, want ≥ 1", collected)
	}
	// A remove after collection still removes, and is collected in turn.
	lwwUpdate(t, c.stores[2], "legacy", func(tx *replica.Txn) { tx.LWWRemove("y"); tx.LWWAdd("z") })
	c.waitFor("the second tombstone collected on every site", 20*time.Second, c.collectedEverywhere("legacy", []string{"z"}))
}

func TestPartitionedSiteHoldsBackCollection(t *testing.T) {
	c := newCluster(t, 3)
	lwwUpdate(t, c.stores[0], "legacy", func(tx *replica.Txn) { tx.LWWAdd("x"); tx.LWWAdd("y") })
	c.waitFor("the adds everywhere", 10*time.Second, c.converged)

	c.p.Isolate(c.addrs[2], c.addrs[0], c.addrs[1])
	lwwUpdate(t, c.stores[0], "legacy", func(tx *replica.Txn) { tx.LWWRemove("x") })
	// The isolated site re-adds x before it could see the remove: its add
	// is older than the remove only if its clock is behind; either way the
	// outcome after healing must be the same on every site.
	lwwUpdate(t, c.stores[2], "legacy", func(tx *replica.Txn) { tx.LWWAdd("w") })
	removedAfter := c.stores[0].Stable()
	c.waitFor("the majority side to agree", 10*time.Second, func() bool { return c.stores[0].Digest() == c.stores[1].Digest() })

	// Let the majority run many garbage-collection rounds.
	rounds := func() float64 { return metric(t, c.regs[0], "duohuo_replica_antientropy_rounds_total") }
	start := rounds()
	c.waitFor("ten more rounds on site-0", 20*time.Second, func() bool { return rounds() >= start+10 })
	for i, s := range c.stores[:2] {
		if n := lwwSet(t, s, "legacy").Tombstones(); n != 1 {
			t.Fatalf("%s collected the tombstone while site-2 was cut off (tombstones %d)", s.Name(), n)
		}
		if st := s.Stable(); st > removedAfter {
			t.Errorf("%s: Stable() advanced to %v while site-2 was cut off (was %v)", s.Name(), st, removedAfter)
		}
		if n := metric(t, c.regs[i], "duohuo_replica_gc_pending"); n != 1 {
			t.Errorf("%s: duohuo_replica_gc_pending = %v, want 1", s.Name(), n)
		}
	}

	c.p.HealAll()
	took := c.waitFor("the tombstone collected on every site after healing", 30*time.Second,
		c.collectedEverywhere("legacy", []string{"w", "y"}))
	t.Logf("collected %v after healing", took)
	c.waitFor("identical digests", 10*time.Second, c.converged)
}

func TestForgetLetsCollectionResumeWithoutADepartedSite(t *testing.T) {
	c := newCluster(t, 3)
	lwwUpdate(t, c.stores[0], "legacy", func(tx *replica.Txn) { tx.LWWAdd("x") })
	c.waitFor("the add everywhere", 10*time.Second, c.converged)
	if _, err := c.stores[0].Forget("site-1"); !errors.Is(err, replica.ErrLiveMember) {
		t.Errorf("Forget(a live site) = %v, want ErrLiveMember", err)
	}
	if err := c.stores[2].Close(); err != nil {
		t.Fatal(err)
	}
	lwwUpdate(t, c.stores[0], "legacy", func(tx *replica.Txn) { tx.LWWRemove("x") })
	rest := &cluster{t: t, stores: c.stores[:2]}
	c.waitFor("the departed site to be gone", 30*time.Second, func() bool {
		return len(c.stores[0].Members()) == 2 && len(c.stores[1].Members()) == 2
	})
	rounds := func() float64 { return metric(t, c.regs[0], "duohuo_replica_antientropy_rounds_total") }
	start := rounds()
	c.waitFor("five more rounds on site-0", 20*time.Second, func() bool { return rounds() >= start+5 })
	if n := lwwSet(t, c.stores[0], "legacy").Tombstones(); n != 1 {
		t.Fatalf("tombstone collected while site-2 was a member that had not seen it")
	}
	for _, s := range rest.stores {
		if ok, err := s.Forget("site-2"); !ok || err != nil {
			t.Fatalf("%s: Forget(site-2) = %v, %v; want true, nil", s.Name(), ok, err)
		}
	}
	rest.waitFor("the tombstone collected on the remaining sites", 20*time.Second, rest.collectedEverywhere("legacy", nil))
}

func TestRestartedSiteStillWaitsForAnAbsentMember(t *testing.T) {
	c := newCluster(t, 3)
	lwwUpdate(t, c.stores[0], "legacy", func(tx *replica.Txn) { tx.LWWAdd("x") })
	c.waitFor("every site to have acknowledged every other", 20*time.Second, func() bool {
		for _, s := range c.stores {
			if s.Stable() == 0 {
				return false
			}
		}
		return true
	})
	for _, s := range c.stores {
		s.Close()
	}
	// site-0 and site-1 come back (same data) while site-2 stays away:
	// nothing they can reach knows site-2, but they remember it.
	back := c.add(t, func(cfg *replica.Config) { cfg.Name, cfg.Dir, cfg.Join = "site-0", c.dirs[0], nil })
	back1 := c.add(t, func(cfg *replica.Config) { cfg.Name, cfg.Dir, cfg.Join = "site-1", c.dirs[1], []string{c.addrs[3]} })
	rest := &cluster{t: t, stores: []*replica.Store{back, back1}}
	rest.waitFor("site-0 and site-1 to see each other", 10*time.Second, func() bool { return len(back.Members()) == 2 })
	lwwUpdate(t, back, "legacy", func(tx *replica.Txn) { tx.LWWRemove("x") })
	rest.waitFor("the remove on both", 10*time.Second, rest.converged)
	rounds := func() float64 { return metric(t, c.regs[3], "duohuo_replica_antientropy_rounds_total") }
	start := rounds()
	rest.waitFor("ten rounds on the restarted site", 20*time.Second, func() bool { return rounds() >= start+10 })
	for _, s := range rest.stores {
		if n := lwwSet(t, s, "legacy").Tombstones(); n != 1 {
			t.Fatalf("%s collected the tombstone while site-2, a member, was away", s.Name())
		}
	}
}
