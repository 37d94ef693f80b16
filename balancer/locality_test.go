package balancer_test

import (
	"errors"
	"math"
	"testing"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/discovery"
)

type tierCase struct {
	name           string
	total, healthy [balancer.NumTiers]int
	load           [balancer.NumTiers]float64 // expected share per tier
	tierPanic      [balancer.NumTiers]bool
	totalPanic     bool
}

// Spill of the local zone with 10 instances per tier, the other tiers fully
// healthy, default factor 1.4 and threshold 50%.
var localSpillCases = []tierCase{
	{name: "local 100% healthy keeps all traffic", total: [4]int{10, 10, 10, 10}, healthy: [4]int{10, 10, 10, 10}, load: [4]float64{1, 0, 0, 0}},
	{name: "local 80% healthy keeps all traffic (80×1.4 ≥ 100)", total: [4]int{10, 10, 10, 10}, healthy: [4]int{8, 10, 10, 10}, load: [4]float64{1, 0, 0, 0}},
	{name: "local 70% healthy spills 2% to the region", total: [4]int{10, 10, 10, 10}, healthy: [4]int{7, 10, 10, 10}, load: [4]float64{0.98, 0.02, 0, 0}},
	{name: "local 50% healthy spills 30% to the region", total: [4]int{10, 10, 10, 10}, healthy: [4]int{5, 10, 10, 10}, load: [4]float64{0.7, 0.3, 0, 0}},
	{name: "local 30% healthy keeps 42% without panic since the region can take the rest", total: [4]int{10, 10, 10, 10}, healthy: [4]int{3, 10, 10, 10}, load: [4]float64{0.42, 0.58, 0, 0}},
	{name: "local 0% healthy sends everything to the region", total: [4]int{10, 10, 10, 10}, healthy: [4]int{0, 10, 10, 10}, load: [4]float64{0, 1, 0, 0}},
	{name: "local and region down spill to the same cloud", total: [4]int{10, 10, 10, 10}, healthy: [4]int{0, 0, 10, 10}, load: [4]float64{0, 0, 1, 0}},
	{name: "whole local cloud down fails over to the other cloud", total: [4]int{10, 10, 10, 10}, healthy: [4]int{0, 0, 0, 10}, load: [4]float64{0, 0, 0, 1}},
	{name: "spill cascades over three tiers", total: [4]int{10, 10, 10, 10}, healthy: [4]int{5, 1, 10, 10}, load: [4]float64{0.7, 0.14, 0.16, 0}},
	{name: "no local instances at all: the region serves", total: [4]int{0, 10, 10, 10}, healthy: [4]int{0, 10, 10, 10}, load: [4]float64{0, 1, 0, 0}},
}

// Envoy's panic-threshold examples (envoyproxy.io/docs/envoy/latest/intro/
// arch_overview/upstream/load_balancing/panic_threshold), two priority
// levels of 100 hosts; Envoy's integer percents are rounded, ours are not.
var envoyPanicCases = []tierCase{
	{name: "72% and 72%: P0 takes all", total: [4]int{100, 100}, healthy: [4]int{72, 72}, load: [4]float64{1, 0}},
	{name: "71% and 71%: P0 99.4%, P1 0.6%", total: [4]int{100, 100}, healthy: [4]int{71, 71}, load: [4]float64{0.994, 0.006}},
	{name: "50% and 60%: 70/30, no panic", total: [4]int{100, 100}, healthy: [4]int{50, 60}, load: [4]float64{0.7, 0.3}},
	{name: "25% and 100%: 35/65, no panic as P1 takes the rest", total: [4]int{100, 100}, healthy: [4]int{25, 100}, load: [4]float64{0.35, 0.65}},
	{name: "25% and 25%: total panic, split by host count", total: [4]int{100, 100}, healthy: [4]int{25, 25}, load: [4]float64{0.5, 0.5}, tierPanic: [4]bool{true, true}, totalPanic: true},
	{name: "5% and 65%: P0 in panic takes 7.1%, P1 92.9%", total: [4]int{100, 100}, healthy: [4]int{5, 65}, load: [4]float64{7.0 / 98, 91.0 / 98}, tierPanic: [4]bool{true, false}},
	{name: "nothing healthy anywhere: total panic", total: [4]int{10, 0, 30}, healthy: [4]int{0, 0, 0}, load: [4]float64{0.25, 0, 0.75}, tierPanic: [4]bool{true, false, true}, totalPanic: true},
}

func TestStateLoads(t *testing.T) {
	for _, tc := range append(localSpillCases, envoyPanicCases...) {
		t.Run(tc.name, func(t *testing.T) {
			b := newBalancer(t, balancer.Config{Local: local}, tiered(tc.total, tc.healthy))
			st := b.State()
			for tier := range st.Tiers {
				ts := st.Tiers[tier]
				if math.Abs(ts.Load-tc.load[tier]) > 1e-9 {
					t.Errorf("State().Tiers[%d].Load = %v, want %v", tier, ts.Load, tc.load[tier])
				}
				if ts.Panic != tc.tierPanic[tier] {
					t.Errorf("State().Tiers[%d].Panic = %v, want %v", tier, ts.Panic, tc.tierPanic[tier])
				}
				if ts.Total != tc.total[tier] || ts.Healthy != tc.healthy[tier] {
					t.Errorf("State().Tiers[%d] counts %d/%d, want %d/%d", tier, ts.Healthy, ts.Total, tc.healthy[tier], tc.total[tier])
				}
			}
			if st.Panic != tc.totalPanic {
				t.Errorf("State().Panic = %v, want %v", st.Panic, tc.totalPanic)
			}
		})
	}
}

// TestPickSharesFollowTierLoads checks that picks land on the tiers in the
// documented proportions, for every policy, and never on an unhealthy
// instance outside panic mode.
func TestPickSharesFollowTierLoads(t *testing.T) {
	const picks = 40_000
	for _, policy := range policies {
		for _, tc := range append(localSpillCases, envoyPanicCases...) {
			t.Run(policy.String()+"/"+tc.name, func(t *testing.T) {
				eps := tiered(tc.total, tc.healthy)
				// A frozen clock keeps peak-EWMA costs equal, so that only the
				// tier loads and weights decide.
				b := newBalancer(t, balancer.Config{Local: local, Policy: policy, Rand: seeded(1), Now: new(manualClock).Now}, eps)
				st, m := b.State(), byID(eps)
				var got [balancer.NumTiers]int
				for range picks {
					p, err := b.Pick(nil, nil)
					checkPick(t, m, st, local, nil, p, err)
					got[p.Tier]++
					p.Done(0, balancer.Succeeded)
				}
				for tier := range got {
					// 0.012 is over 4.8 standard deviations of a share at 40k
					// picks; the random source is seeded.
					if share := float64(got[tier]) / picks; math.Abs(share-tc.load[tier]) > 0.012 {
						t.Errorf("tier %d got %.4f of picks, want %.4f", tier, share, tc.load[tier])
					}
				}
			})
		}
	}
}

func TestStateServing(t *testing.T) {
	tests := []struct {
		name           string
		total, healthy [balancer.NumTiers]int
		want           discovery.Tier
		ok             bool
	}{
		{"local zone healthy serves", [4]int{3, 3, 3, 3}, [4]int{3, 3, 3, 3}, discovery.SameZone, true},
		{"local zone down: region serves", [4]int{3, 3, 3, 3}, [4]int{0, 3, 3, 3}, discovery.SameRegion, true},
		{"only the other cloud is up: it serves", [4]int{3, 3, 3, 3}, [4]int{0, 0, 0, 3}, discovery.OtherCloud, true},
		{"no instances: nothing serves", [4]int{}, [4]int{}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBalancer(t, balancer.Config{Local: local}, tiered(tc.total, tc.healthy))
			got, ok := b.State().Serving()
			if got != tc.want || ok != tc.ok {
				t.Errorf("State().Serving() = %d, %v, want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestConfigChangesSpill(t *testing.T) {
	eps := tiered([4]int{10, 10}, [4]int{6, 10})
	tests := []struct {
		name string
		cfg  balancer.Config
		want float64 // local tier load
	}{
		{"default factor 1.4: 60% healthy keeps 84%", balancer.Config{Local: local}, 0.84},
		{"factor 1: 60% healthy keeps 60%", balancer.Config{Local: local, OverprovisioningFactor: 1}, 0.6},
		{"factor 2: 60% healthy keeps all", balancer.Config{Local: local, OverprovisioningFactor: 2}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newBalancer(t, tc.cfg, eps).State().Tiers[0].Load; math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("local load = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPanicThreshold(t *testing.T) {
	// One tier, 3 of 10 healthy.
	eps := tiered([4]int{10}, [4]int{3})
	tests := []struct {
		name      string
		threshold float64
		wantPanic bool
	}{
		{"default 50%: 30% healthy panics", 0, true},
		{"threshold 25%: 30% healthy does not panic", 0.25, false},
		{"negative threshold disables panic", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBalancer(t, balancer.Config{Local: local, PanicThreshold: tc.threshold, Rand: seeded(2), Now: new(manualClock).Now}, eps)
			if got := b.State().Panic; got != tc.wantPanic {
				t.Fatalf("State().Panic = %v, want %v", got, tc.wantPanic)
			}
			unhealthy := 0
			for range 10_000 {
				p, err := b.Pick(nil, nil)
				if err != nil {
					t.Fatalf("Pick: %v", err)
				}
				if p.Panic != tc.wantPanic {
					t.Fatalf("Pick().Panic = %v, want %v", p.Panic, tc.wantPanic)
				}
				if !byID(eps)[p.Instance.ID].Healthy {
					unhealthy++
				}
				p.Done(0, balancer.Succeeded)
			}
			// In panic all 10 share the load: 7 of them are unhealthy.
			if tc.wantPanic && math.Abs(float64(unhealthy)/10_000-0.7) > 0.03 {
				t.Errorf("panic: %d of 10000 picks unhealthy, want about 7000", unhealthy)
			}
			if !tc.wantPanic && unhealthy > 0 {
				t.Errorf("no panic: %d picks unhealthy, want 0", unhealthy)
			}
		})
	}
}

func TestNoHealthyInstanceWithoutPanicFails(t *testing.T) {
	b := newBalancer(t, balancer.Config{Local: local, PanicThreshold: -1}, tiered([4]int{3, 3}, [4]int{}))
	if _, err := b.Pick(nil, nil); !errors.Is(err, balancer.ErrNoInstance) {
		t.Fatalf("Pick with nothing healthy and panic off: err = %v, want ErrNoInstance", err)
	}
	if _, ok := b.State().Serving(); ok {
		t.Errorf("State().Serving() reports a tier with nothing healthy and panic off")
	}
}

// TestSpillIsMonotonic is a property of the spill rule: as the local zone
// heals, its share never falls and the tiers' shares always add up to 1,
// for any overprovisioning factor and health of the next tier.
func TestSpillIsMonotonic(t *testing.T) {
	for _, factor := range []float64{1, 1.2, 1.4, 2, 5} {
		for next := 0; next <= 10; next++ {
			prev := -1.0
			for h := 0; h <= 10; h++ {
				b := newBalancer(t, balancer.Config{Local: local, OverprovisioningFactor: factor},
					tiered([4]int{10, 10, 10}, [4]int{h, next, 10}))
				st := b.State()
				var sum float64
				for _, ts := range st.Tiers {
					sum += ts.Load
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Fatalf("factor %v, local %d/10, region %d/10: loads add up to %v, want 1", factor, h, next, sum)
				}
				if st.Tiers[0].Load < prev-1e-12 {
					t.Fatalf("factor %v, region %d/10: local load fell from %v to %v as local went to %d/10 healthy", factor, next, prev, st.Tiers[0].Load, h)
				}
				prev = st.Tiers[0].Load
			}
		}
	}
}
