package balancer

import (
	"math"
	"sync/atomic"

	"github.com/duohuo/duohuo/discovery"
)

// entry is one non-drained instance of a snapshot.
type entry struct {
	inst    discovery.Instance
	tier    discovery.Tier
	healthy bool
	weight  uint32 // effective weight, > 0
	stats   *stats
}

// picker is an immutable snapshot: built by Update, read by Pick. Only the
// round-robin counters and the shared stats change after it is published,
// and those are atomics.
type picker struct {
	b       *Balancer
	policy  Policy
	entries []entry
	state   State
	// cum[t] is the cumulative load of tiers 0..t scaled to 2^32: a uniform
	// 32-bit draw u picks the first tier with u < cum[t].
	cum   [NumTiers]uint64
	tiers [NumTiers]pool
	all   pool // every instance, for total panic
}

// pool is the set of instances one pick chooses from, with the tables of
// every policy precomputed.
type pool struct {
	members []int32  // indexes into picker.entries
	weights []uint32 // weights[i] is the weight of members[i]

	// RoundRobin: one cycle of nginx's smooth weighted round-robin as
	// positions in members, walked by an atomic counter.
	seq  []int32
	next *paddedCounter

	// PeakEWMA and LeastRequest: Vose's alias table for drawing a member
	// with probability proportional to its weight in O(1): column i is
	// kept if a uniform 32-bit draw is below prob[i], else alias[i].
	prob  []uint64
	alias []int32
}

// paddedCounter is an atomic counter alone on its cache line, so that the
// round-robin counters of two pools do not slow each other down.
type paddedCounter struct {
	_ [56]byte
	atomic.Uint64
	_ [56]byte
}

func newPicker(b *Balancer, eps []Endpoint, st map[string]*stats) *picker {
	p := &picker{b: b, policy: b.cfg.Policy, entries: make([]entry, 0, len(eps))}
	for i := range eps {
		ep := &eps[i]
		w := ep.effectiveWeight()
		if w == 0 {
			continue // drained: never picked, not counted
		}
		t := ep.Instance.Locality.TierFrom(b.cfg.Local)
		if int(t) >= NumTiers {
			t = discovery.OtherCloud
		}
		p.entries = append(p.entries, entry{inst: ep.Instance, tier: t, healthy: ep.Healthy, weight: w, stats: st[ep.Instance.ID]})
		ts := &p.state.Tiers[t]
		ts.Total++
		if ep.Healthy {
			ts.Healthy++
		}
	}
	tierLoads(&p.state, b.cfg.OverprovisioningFactor, b.cfg.PanicThreshold)

	var cum float64
	last := -1
	for t := range p.state.Tiers {
		cum += p.state.Tiers[t].Load
		p.cum[t] = uint64(math.Min(cum, 1) * (1 << 32))
		if p.state.Tiers[t].Load > 0 {
			last = t
		}
	}
	if last >= 0 {
		// Rounding must not leave a sliver of draws to no tier.
		for t := last; t < NumTiers; t++ {
			p.cum[t] = 1 << 32
		}
	}

	if p.state.Panic {
		p.all = p.buildPool(func(*entry) bool { return true })
		return p
	}
	for t := range p.tiers {
		tier, panicked := discovery.Tier(t), p.state.Tiers[t].Panic
		p.tiers[t] = p.buildPool(func(e *entry) bool { return e.tier == tier && (e.healthy || panicked) })
	}
	return p
}

func (p *picker) buildPool(keep func(*entry) bool) pool {
	var pl pool
	for i := range p.entries {
		if e := &p.entries[i]; keep(e) {
			pl.members = append(pl.members, int32(i))
			pl.weights = append(pl.weights, e.weight)
		}
	}
	if len(pl.members) == 0 {
		return pl
	}
	switch p.policy {
	case RoundRobin:
		pl.seq = smoothSequence(pl.weights, maxSequence)
		pl.next = new(paddedCounter)
		// Start each snapshot at a random point of its cycle: updates can be
		// frequent, and restarting at 0 would favour the first instances.
		pl.next.Store(p.b.cfg.Rand())
	default:
		pl.prob, pl.alias = aliasTable(pl.weights)
	}
	return pl
}

// pick returns the index of the chosen entry, or -1, and whether the
// chosen pool ignores health.
func (p *picker) pick(exclude func(string) bool, now uint32) (int, bool) {
	if p.state.Panic {
		return p.pickIn(&p.all, exclude, now), true
	}
	u := p.b.cfg.Rand() >> 32
	first := -1
	for t := range p.cum {
		if u < p.cum[t] {
			first = t
			break
		}
	}
	if first < 0 {
		return -1, false // no tier has load: nothing healthy and no panic
	}
	if i := p.pickIn(&p.tiers[first], exclude, now); i >= 0 {
		return i, p.state.Tiers[first].Panic
	}
	// Everything in the chosen tier is excluded (a retry): try the other
	// tiers, nearest first.
	for t := range p.tiers {
		if t == first {
			continue
		}
		if i := p.pickIn(&p.tiers[t], exclude, now); i >= 0 {
			return i, p.state.Tiers[t].Panic
		}
	}
	return -1, false
}

// pickIn returns the index in p.entries of a member of pl that exclude does
// not reject, chosen by the policy, or -1. now is the clock in
// milliseconds (Balancer.nowMs).
func (p *picker) pickIn(pl *pool, exclude func(string) bool, now uint32) int {
	if len(pl.members) == 0 {
		return -1
	}
	switch p.policy {
	case RoundRobin:
		return p.pickRoundRobin(pl, exclude)
	default:
		return p.pickTwo(pl, exclude, now)
	}
}

// excluded reports whether member m of pl is rejected by exclude.
func (p *picker) excluded(pl *pool, m int32, exclude func(string) bool) bool {
	return exclude != nil && exclude(p.entries[pl.members[m]].inst.ID)
}

// scan returns the first member of pl at or after start (cyclically) that
// exclude does not reject, or -1. It is the fallback when random draws
// keep hitting excluded members.
func (p *picker) scan(pl *pool, start uint64, exclude func(string) bool) int32 {
	n := uint64(len(pl.members))
	for k := range n {
		m := int32((start + k) % n)
		if !p.excluded(pl, m, exclude) {
			return m
		}
	}
	return -1
}
