package balancer

import (
	"math"

	"github.com/duohuo/duohuo/discovery"
)

// NumTiers is the number of locality tiers, [discovery.SameZone] to
// [discovery.OtherCloud].
const NumTiers = int(discovery.OtherCloud) + 1

// TierState describes one locality tier in a snapshot.
type TierState struct {
	// Healthy and Total count the tier's instances that are not drained;
	// Healthy those of them that are healthy.
	Healthy, Total int
	// Health is the tier's health score: min(1, Healthy/Total ×
	// overprovisioning factor); 0 for an empty tier.
	Health float64
	// Load is the share of traffic (0 to 1) the tier receives.
	Load float64
	// Panic is true when the tier ignores health and spreads its load over
	// all its instances.
	Panic bool
}

// State describes the tiers of a snapshot; see [Balancer.State].
type State struct {
	// Tiers is indexed by [discovery.Tier].
	Tiers [NumTiers]TierState
	// Panic is true in total panic: every non-empty tier is below the panic
	// threshold, so picks spread over all instances by weight, healthy or
	// not, whatever their tier.
	Panic bool
}

// Serving returns the nearest tier that receives traffic, and false when no
// tier does (no instance, or none healthy while panic mode is off).
func (s State) Serving() (discovery.Tier, bool) {
	for t := range s.Tiers {
		if s.Tiers[t].Load > 0 {
			return discovery.Tier(t), true
		}
	}
	return 0, false
}

// tierLoads computes each tier's health score, load and panic flag from
// the counts in st, following Envoy's priority levels and panic threshold
// (envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/
// load_balancing/priority and …/panic_threshold), in real numbers where
// Envoy rounds to integer percents:
//
//	health(t)  = min(1, factor × healthy(t) / total(t))        0 if total(t) = 0
//	normalized = min(1, Σ health(t))
//	load(t)    = min(1 − Σ_{u<t} load(u), health(t) / normalized)
//
// When normalized < 1 the tiers together cannot take all traffic, and a
// non-empty tier whose healthy(t)/total(t) is below the panic threshold is
// in panic: its load goes to all its instances, healthy or not. When every
// non-empty tier is in panic (total panic), load is spread over all
// instances whatever their tier (Envoy spreads it over tiers by instance
// count, then over each tier's instances, which is the same for equal
// weights). A negative threshold disables panic: with no healthy instance
// at all every load is then 0.
func tierLoads(st *State, factor, threshold float64) {
	var sum float64
	nonEmpty := 0
	for t := range st.Tiers {
		ts := &st.Tiers[t]
		if ts.Total == 0 {
			continue
		}
		nonEmpty++
		ts.Health = math.Min(1, factor*float64(ts.Healthy)/float64(ts.Total))
		sum += ts.Health
	}
	normalized := math.Min(1, sum)
	// Below 1 - 1e-9 rather than 1: health scores such as 0.7 and 0.3 need
	// not add up to exactly 1 in floating point.
	if normalized < 1-1e-9 && threshold >= 0 {
		inPanic := 0
		for t := range st.Tiers {
			ts := &st.Tiers[t]
			if ts.Total > 0 && float64(ts.Healthy)/float64(ts.Total) < threshold {
				ts.Panic = true
				inPanic++
			}
		}
		if nonEmpty > 0 && inPanic == nonEmpty {
			st.Panic = true
			all := 0
			for t := range st.Tiers {
				all += st.Tiers[t].Total
			}
			for t := range st.Tiers {
				st.Tiers[t].Load = float64(st.Tiers[t].Total) / float64(all)
			}
			return
		}
	}
	if normalized == 0 {
		return
	}
	left := 1.0
	for t := range st.Tiers {
		ts := &st.Tiers[t]
		ts.Load = math.Max(0, math.Min(left, ts.Health/normalized))
		left -= ts.Load
	}
}
