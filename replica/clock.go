package replica

import (
	"sync"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

// Clock offsets. Every message carries the sender's hybrid time when it
// made it (wire.go). A site holds no stamp later than its own clock: its
// writes are stamped by it, and it moves its clock forward past every
// delta and state it accepts. So the sender's time bounds every stamp in
// its message, and one check covers deltas and anti-entropy states alike:
// a message whose sender's time is more than Config.MaxClockOffset ahead
// of this site's physical clock is refused whole (counted in
// duohuo_replica_rejected_total{reason="clock"}), so that a site whose
// clock runs ahead cannot make its register and map writes win by any
// path; it is accepted again once its time is back within the bound, and
// what it wrote meanwhile (kept on its disk) then converges.
//
// The same times measure each peer's offset (remote time minus local
// physical time, transit included: at most a few milliseconds more than
// the truth), exported as duohuo_replica_peer_clock_offset_seconds{peer}
// and used to say whose clock is wrong: a site that finds every other
// site ahead of it (or behind it) beyond the bound blames its own clock;
// one that finds a single peer off blames that peer.

// clocks tracks the peers' measured offsets. Safe for concurrent use.
type clocks struct {
	s  *Store
	mu sync.Mutex
	// peers holds the latest measured offset of each peer and whether
	// it was beyond the bound. Guarded by mu.
	peers map[string]*peerClock
}

type peerClock struct {
	offset time.Duration // remote minus local
	state  clockState
}

type clockState int

const (
	clockOK     clockState = iota
	clockAhead             // the peer's clock is ahead beyond the bound: this site refuses its writes
	clockBehind            // behind beyond the bound: the peer refuses this site's writes
)

func newClocks(s *Store) *clocks { return &clocks{s: s, peers: make(map[string]*peerClock)} }

func (c *clocks) bound() time.Duration {
	if c.s.cfg.MaxClockOffset > 0 {
		return c.s.cfg.MaxClockOffset
	}
	return crdt.DefaultMaxOffset
}

// measure records peer's time remote, received at local physical time
// now, and logs when the peer's offset goes beyond the bound or comes
// back within it, saying whose clock is wrong.
func (c *clocks) measure(peer string, remote crdt.Timestamp, now time.Time) {
	if peer == c.s.cfg.Name || remote == 0 {
		return
	}
	off := time.Duration(remote.WallMillis()-now.UnixMilli()) * time.Millisecond
	c.s.metrics.peerOffset.WithLabelValues(peer).Set(off.Seconds())
	bound := c.bound()
	st := clockOK
	switch {
	case off > bound:
		st = clockAhead
	case off < -bound:
		st = clockBehind
	}
	c.mu.Lock()
	p, ok := c.peers[peer]
	if !ok {
		p = &peerClock{}
		c.peers[peer] = p
	}
	p.offset = off
	changed := p.state != st
	p.state = st
	// Whose clock: compare with every other peer measured.
	all, others := true, 0
	for name, q := range c.peers {
		if name == peer {
			continue
		}
		others++
		if q.state != st {
			all = false
		}
	}
	c.mu.Unlock()
	if !changed {
		return
	}
	log := c.s.log
	switch {
	case st == clockOK:
		log.Info("replica: peer's clock is back within max_clock_offset of this site's", "peer", peer, "offset", off)
	case others == 0:
		log.Warn("replica: clock offset with the only peer beyond max_clock_offset: the clock of this site or of the peer is wrong (check NTP/chrony on both)",
			"peer", peer, "offset", off, "max_clock_offset", bound, "refused", refusedBy(st))
	case all && st == clockAhead:
		log.Warn("replica: this site's clock is behind every other site's by more than max_clock_offset: fix this site's clock (NTP/chrony); until then it refuses their writes",
			"peer", peer, "offset", off, "max_clock_offset", bound)
	case all:
		log.Warn("replica: this site's clock is ahead of every other site's by more than max_clock_offset: fix this site's clock (NTP/chrony); until then they refuse its writes",
			"peer", peer, "offset", off, "max_clock_offset", bound)
	default:
		log.Warn("replica: a peer's clock is off by more than max_clock_offset from this site's and the others': fix the peer's clock (NTP/chrony)",
			"peer", peer, "offset", off, "max_clock_offset", bound, "refused", refusedBy(st))
	}
}

func refusedBy(st clockState) string {
	if st == clockAhead {
		return "this site refuses the peer's writes"
	}
	return "the peer refuses this site's writes"
}

// refused notes a message refused for its sender's time. The warning is
// the one measure logged when the offset went beyond the bound.
func (c *clocks) refused(peer, what string, err error) {
	c.s.log.Debug("replica: message refused: sender's clock too far ahead", "from", peer, "type", what, "err", err)
}
