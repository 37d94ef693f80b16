package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/duohuo/duohuo/crdt"
)

// Garbage collection of LWW-element-set tombstones follows Redis
// Active-Active's rule: a tombstone is collected once every site has
// observed the removal, and nothing is collected while a site is away.
//
// Every anti-entropy interval each site sends every live member an ack: the
// digest of its LWW-element-set objects and the hybrid time of that snapshot
// (a fresh clock reading taken under the store's lock, so the snapshot holds
// every local write stamped up to it), and its seen time (below). A site
// whose own digest equals the one in an ack holds everything the sender held
// at the snapshot, so every write the sender made up to the snapshot time:
// it records that time as heard from the sender. Its seen time, up to which
// it holds every write of every member, is the least of its own clock and
// what it heard from each other member. Its stability frontier is the least
// of its seen time and the seen times every other member acknowledged: every
// member holds every write stamped up to it. A member that is unreachable
// sends no acks, so the frontier stays where it was until it is back.
//
// The members are every site this one has exchanged acks with or seen join,
// persisted (meta/members) so that a restart while a site is away does not
// forget it, until [Store.Forget]. A site that has never heard from another
// collects nothing.
type stability struct {
	mu      sync.Mutex
	self    string
	members map[string]struct{}       // guarded by mu; self included
	heard   map[string]crdt.Timestamp // guarded by mu
	seen    map[string]crdt.Timestamp // guarded by mu
	changed bool                      // guarded by mu: members differ from what is on disk
}

func newStability(self string, persisted []string) *stability {
	st := &stability{
		self:    self,
		members: map[string]struct{}{self: {}},
		heard:   make(map[string]crdt.Timestamp),
		seen:    make(map[string]crdt.Timestamp),
	}
	for _, n := range persisted {
		st.members[n] = struct{}{}
	}
	st.changed = !slices.Contains(persisted, self)
	return st
}

// addMember records name as a member.
func (st *stability) addMember(name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.addLocked(name)
}

func (st *stability) addLocked(name string) {
	if _, ok := st.members[name]; !ok {
		st.members[name] = struct{}{}
		st.changed = true
	}
}

// recordAck records an ack from a member; same says whether its digest
// equals this site's current one.
func (st *stability) recordAck(from string, same bool, a ack) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.addLocked(from)
	if same && a.snapshot > st.heard[from] {
		st.heard[from] = a.snapshot
	}
	if a.seen > st.seen[from] {
		st.seen[from] = a.seen
	}
}

// forget removes name from the members.
func (st *stability) forget(name string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.members[name]; !ok {
		return false
	}
	delete(st.members, name)
	delete(st.heard, name)
	delete(st.seen, name)
	st.changed = true
	return true
}

// unsaved returns the members if they changed since the last call.
func (st *stability) unsaved() ([]string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.changed {
		return nil, false
	}
	st.changed = false
	return slices.Sorted(maps.Keys(st.members)), true
}

// markUnsaved makes the next unsaved call return the members again, after
// saving them failed.
func (st *stability) markUnsaved() {
	st.mu.Lock()
	st.changed = true
	st.mu.Unlock()
}

// frontier returns this site's seen time, given a fresh clock reading, and
// the stability frontier; both are zero while this site knows no other.
func (st *stability) frontier(now crdt.Timestamp) (seen, stable crdt.Timestamp) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.members) < 2 {
		return 0, 0
	}
	seen, stable = now, now
	for m := range st.members {
		if m != st.self {
			seen = min(seen, st.heard[m])
			stable = min(stable, st.seen[m])
		}
	}
	return seen, min(seen, stable)
}

// lwwSnapshot returns the digest of the LWW-element-set objects and a fresh
// clock reading, taken together under the lock: every local write stamped
// up to the reading is in the digested states.
func (s *Store) lwwSnapshot() ([32]byte, crdt.Timestamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(s.objects)) {
		if _, ok := s.objects[k].(*crdt.LWWSet); !ok {
			continue
		}
		d := s.digestLocked(k)
		h.Write(binary.AppendUvarint(nil, uint64(len(k))))
		h.Write([]byte(k))
		h.Write(d[:])
	}
	var d [32]byte
	h.Sum(d[:0])
	return d, s.clock.Now()
}

// collect compacts every LWW-element-set object to the stability frontier
// and updates the garbage-collection metrics.
func (s *Store) collect(stable crdt.Timestamp) {
	s.stable.Store(uint64(stable))
	s.metrics.gcFrontier.Set(float64(stable.WallMillis()) / 1000)
	s.mu.Lock()
	pending := 0
	for k, o := range s.objects {
		set, ok := o.(*crdt.LWWSet)
		if !ok {
			continue
		}
		if stable != 0 {
			if n := set.Compact(stable); n > 0 {
				s.metrics.gcCollected.Add(float64(n))
				s.dirty[k] = struct{}{}
				delete(s.digests, k)
			}
		}
		pending += set.Tombstones()
	}
	s.mu.Unlock()
	s.metrics.gcPending.Set(float64(pending))
}

// Stable returns the stability frontier: every write stamped at or before
// it has reached every member site, and this site has compacted its
// LWW-element-set objects to it ([crdt.LWWSet.Compact]). It is zero for a
// store that runs alone or has not yet heard from every member, and stops
// advancing while any member is unreachable. Safe for concurrent use.
func (s *Store) Stable() crdt.Timestamp { return crdt.Timestamp(s.stable.Load()) }

// ErrLiveMember is returned by [Store.Forget] for a site that is alive.
var ErrLiveMember = errors.New("replica: site is a live member")

// Forget removes a site that left for good from the members garbage
// collection waits for, so that collection resumes without it. Call it on
// every remaining site (as one removes an instance from a Redis
// Active-Active database): the others keep waiting for it until they
// forget it too; this site also stops trying to join it. A forgotten site
// that comes back is a member again. It
// returns [ErrLiveMember] for a site this one sees alive (or itself), and
// reports whether the site was a member. Safe for concurrent use.
func (s *Store) Forget(name string) (bool, error) {
	if s.gossip == nil {
		return false, nil
	}
	if name == s.cfg.Name || s.gossip.peer(name) != nil {
		return false, fmt.Errorf("replica: forget %q: %w", name, ErrLiveMember)
	}
	s.gossip.forgetAddr(name) // and stop joining it
	return s.gossip.gc.forget(name), nil
}

// gcRound runs once per anti-entropy interval: it persists new members,
// sends every live member an ack, and compacts to the frontier. Nothing is
// collected while the members are not durable, lest a restart forget a
// site that is away.
func (g *gossip) gcRound() {
	if names, ok := g.gc.unsaved(); ok {
		if err := g.s.disk.saveMembers(names); err != nil {
			g.gc.markUnsaved()
			g.s.log.Error("replica: garbage collection paused", "err", err)
			return
		}
	}
	digest, now := g.s.lwwSnapshot()
	seen, stable := g.gc.frontier(now)
	// The ack vouches for what this site holds: the snapshot, and every
	// state it compared equal to the others' (heard, hence seen). It is
	// sent only once all that is durable (see durable.go), so that a crash
	// cannot make this site forget a write the others compacted on its
	// word. Taken after frontier, the number covers every change those
	// comparisons saw.
	through := g.s.wm.issued()
	msg := (&message{typ: msgAck, from: g.s.cfg.Name, clock: now, ack: ack{snapshot: now, seen: seen, digest: digest}}).encode()
	for _, p := range g.peers() {
		g.enqueue(p.Name, msgAck, msg, through)
	}
	g.s.collect(stable)
}

// handleAck records an ack received from a member.
func (g *gossip) handleAck(m *message) {
	digest, _ := g.s.lwwSnapshot()
	g.gc.recordAck(m.from, digest == m.ack.digest, m.ack)
}
