package balancer_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/discovery"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     balancer.Config
		wantErr bool
	}{
		{"zero value is valid", balancer.Config{}, false},
		{"every policy is valid", balancer.Config{Policy: balancer.LeastRequest}, false},
		{"factor exactly 1 is valid", balancer.Config{OverprovisioningFactor: 1}, false},
		{"threshold 1 is valid", balancer.Config{PanicThreshold: 1}, false},
		{"negative threshold (panic off) is valid", balancer.Config{PanicThreshold: -1}, false},
		{"unknown policy is refused", balancer.Config{Policy: 9}, true},
		{"factor below 1 is refused", balancer.Config{OverprovisioningFactor: 0.5}, true},
		{"NaN factor is refused", balancer.Config{OverprovisioningFactor: math.NaN()}, true},
		{"infinite factor is refused", balancer.Config{OverprovisioningFactor: math.Inf(1)}, true},
		{"threshold above 1 is refused", balancer.Config{PanicThreshold: 1.5}, true},
		{"NaN threshold is refused", balancer.Config{PanicThreshold: math.NaN()}, true},
		{"negative decay time is refused", balancer.Config{DecayTime: -time.Second}, true},
		{"negative default RTT is refused", balancer.Config{DefaultRTT: -time.Millisecond}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr != (err != nil) {
				t.Fatalf("Validate(%+v) = %v, want error: %v", tc.cfg, err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, balancer.ErrInvalidConfig) {
				t.Errorf("Validate error %v does not wrap ErrInvalidConfig", err)
			}
			b, nerr := balancer.New(tc.cfg)
			if (nerr != nil) != tc.wantErr || (nerr == nil) != (b != nil) {
				t.Errorf("New(%+v) = %v, %v; want error: %v", tc.cfg, b, nerr, tc.wantErr)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    balancer.Policy
		wantErr bool
	}{
		{"", balancer.PeakEWMA, false},
		{"peak_ewma", balancer.PeakEWMA, false},
		{"p2c_ewma", balancer.PeakEWMA, false}, // alias; prints as peak_ewma
		{"round_robin", balancer.RoundRobin, false},
		{"least_request", balancer.LeastRequest, false},
		{"Round_Robin", 0, true},
		{"random", 0, true},
	}
	for _, tc := range tests {
		got, err := balancer.ParsePolicy(tc.in)
		if tc.wantErr {
			if !errors.Is(err, balancer.ErrInvalidConfig) {
				t.Errorf("ParsePolicy(%q) error = %v, want ErrInvalidConfig", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePolicy(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
		if tc.in != "" && tc.in != "p2c_ewma" && got.String() != tc.in {
			t.Errorf("ParsePolicy(%q).String() = %q", tc.in, got.String())
		}
	}
	if got := balancer.Policy(7).String(); got != "Policy(7)" {
		t.Errorf("Policy(7).String() = %q", got)
	}
}

func TestUpdateRefusesBadEndpointsAndKeepsServing(t *testing.T) {
	good := []balancer.Endpoint{endpoint(1, local, true, 100)}
	noID := endpoint(2, local, true, 100)
	noID.Instance.ID = ""
	noAddr := endpoint(3, local, true, 100)
	noAddr.Instance.Addr = netip.AddrPort{}
	tests := []struct {
		name string
		eps  []balancer.Endpoint
	}{
		{"empty ID", []balancer.Endpoint{noID}},
		{"duplicate ID", []balancer.Endpoint{endpoint(4, local, true, 1), endpoint(4, sameCloud, true, 1)}},
		{"missing address", []balancer.Endpoint{noAddr}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBalancer(t, balancer.Config{}, good)
			if err := b.Update(tc.eps); !errors.Is(err, balancer.ErrInvalidEndpoints) {
				t.Fatalf("Update(%s) = %v, want ErrInvalidEndpoints", tc.name, err)
			}
			p, err := b.Pick(nil, nil)
			if err != nil || p.Instance.ID != good[0].Instance.ID {
				t.Fatalf("Pick after refused Update = %v, %v; want the previous snapshot's %s", p.Instance, err, good[0].Instance.ID)
			}
			p.Done(time.Millisecond, balancer.Succeeded)
		})
	}
}

func TestPickFailsWithNoInstance(t *testing.T) {
	drained := endpoint(1, local, true, 0)
	drainedDynamic := endpoint(2, local, true, 0)
	drainedDynamic.Weight = 50 // a dynamic weight does not undrain
	tests := []struct {
		name    string
		eps     []balancer.Endpoint
		exclude func(string) bool
	}{
		{"before any update", nil, nil},
		{"empty endpoint set", []balancer.Endpoint{}, nil},
		{"only drained instances", []balancer.Endpoint{drained, drainedDynamic}, nil},
		{"every instance excluded", []balancer.Endpoint{endpoint(3, local, true, 1), endpoint(4, otherCloud, true, 1)}, func(string) bool { return true }},
	}
	for _, policy := range policies {
		for _, tc := range tests {
			t.Run(policy.String()+"/"+tc.name, func(t *testing.T) {
				b, err := balancer.New(balancer.Config{Policy: policy})
				if err != nil {
					t.Fatal(err)
				}
				if tc.eps != nil {
					if err := b.Update(tc.eps); err != nil {
						t.Fatal(err)
					}
				}
				if p, err := b.Pick(nil, tc.exclude); !errors.Is(err, balancer.ErrNoInstance) {
					t.Fatalf("Pick = %v, %v, want ErrNoInstance", p.Instance, err)
				}
			})
		}
	}
}

// TestPickDistributionMatchesWeights runs 100k picks on idle instances of
// one tier and compares the counts with the weights: exactly (to within
// one cycle) for round-robin, by a chi-square test for the random policies.
func TestPickDistributionMatchesWeights(t *testing.T) {
	const picks = 100_000
	weightSets := [][]uint32{
		{100, 100, 100},
		{1, 2, 3, 4},
		{500, 100, 100, 50, 10, 5},
		{7, 13, 29, 61, 97, 150, 300, 1000},
	}
	for _, policy := range policies {
		for _, weights := range weightSets {
			t.Run(fmt.Sprintf("%s/%v", policy, weights), func(t *testing.T) {
				var eps []balancer.Endpoint
				var total float64
				for i, w := range weights {
					eps = append(eps, endpoint(i, local, true, w))
					total += float64(w)
				}
				clock := new(manualClock) // frozen: equal peak-EWMA costs
				b := newBalancer(t, balancer.Config{Local: local, Policy: policy, Rand: seeded(3), Now: clock.Now}, eps)
				count := map[string]int{}
				for range picks {
					p, err := b.Pick(nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					count[p.Instance.ID]++
					p.Done(0, balancer.Succeeded)
				}
				var chi2 float64
				for i, w := range weights {
					want := picks * float64(w) / total
					got := float64(count[eps[i].Instance.ID])
					if policy == balancer.RoundRobin {
						// At most one partial cycle off.
						if math.Abs(got-want) > float64(w)+1 {
							t.Errorf("round robin: instance %d (weight %d) got %v picks, want %.1f", i, w, got, want)
						}
						continue
					}
					chi2 += (got - want) * (got - want) / want
				}
				// The 99.9th percentile of chi-square with k-1 degrees of
				// freedom is below df + 4.5√(2df) + 5 for df ≤ 7; the random
				// source is seeded, so the test is deterministic.
				df := float64(len(weights) - 1)
				if limit := df + 4.5*math.Sqrt(2*df) + 5; chi2 > limit {
					t.Errorf("chi-square = %.2f over %d picks, want below %.2f; counts %v", chi2, picks, limit, count)
				}
			})
		}
	}
}

func TestDynamicWeightOverridesConfigured(t *testing.T) {
	a, b := endpoint(1, local, true, 100), endpoint(2, local, true, 100)
	b.Weight = 300 // health measured b as three times as good
	bal := newBalancer(t, balancer.Config{Local: local, Policy: balancer.RoundRobin, Rand: seeded(4)}, []balancer.Endpoint{a, b})
	got := map[string]int{}
	for range 4000 {
		p, err := bal.Pick(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got[p.Instance.ID]++
		p.Done(0, balancer.Succeeded)
	}
	if got[a.Instance.ID] != 1000 || got[b.Instance.ID] != 3000 {
		t.Errorf("picks %v, want 1000 for %s and 3000 for %s", got, a.Instance.ID, b.Instance.ID)
	}
}

// TestExcludeIsHonoured plays a retry: each attempt excludes every instance
// tried before, until all are used up, in every tier layout.
func TestExcludeIsHonoured(t *testing.T) {
	layouts := map[string][]balancer.Endpoint{
		"one tier":                tiered([4]int{5}, [4]int{5}),
		"four tiers":              tiered([4]int{2, 2, 2, 2}, [4]int{2, 2, 2, 2}),
		"local tier half down":    tiered([4]int{4, 4}, [4]int{2, 4}),
		"total panic":             tiered([4]int{4, 4}, [4]int{1, 0}),
		"weights differ by 1000x": {endpoint(1, local, true, 1000), endpoint(2, local, true, 1), endpoint(3, local, true, 1)},
	}
	for _, policy := range policies {
		for name, eps := range layouts {
			t.Run(policy.String()+"/"+name, func(t *testing.T) {
				b := newBalancer(t, balancer.Config{Local: local, Policy: policy, Rand: seeded(5)}, eps)
				st, m := b.State(), byID(eps)
				for round := range 50 {
					tried := map[string]bool{}
					exclude := func(id string) bool { return tried[id] }
					for {
						p, err := b.Pick(nil, exclude)
						checkPick(t, m, st, local, exclude, p, err)
						if err != nil {
							break
						}
						if tried[p.Instance.ID] {
							t.Fatalf("round %d: %s picked twice", round, p.Instance.ID)
						}
						tried[p.Instance.ID] = true
						p.Done(time.Millisecond, balancer.Failed)
					}
					eligible := 0
					for _, ep := range eps {
						if ep.Healthy || st.Panic || st.Tiers[ep.Instance.Locality.TierFrom(local)].Panic {
							eligible++
						}
					}
					if len(tried) != eligible {
						t.Fatalf("round %d: retries reached %d instances, want all %d eligible", round, len(tried), eligible)
					}
				}
			})
		}
	}
}

// TestInvariantsOnRandomSets is the property test: random endpoint sets
// (tiers, health, weights, drained instances) and random excludes never
// break the invariants checkPick states.
func TestInvariantsOnRandomSets(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, policy := range policies {
		for set := range 200 {
			n := 1 + r.IntN(20)
			eps := make([]balancer.Endpoint, n)
			for i := range eps {
				w := uint32(r.IntN(4) * 50) // 0 (drained), 50, 100, 150
				eps[i] = endpoint(i, tierLocs[r.IntN(balancer.NumTiers)], r.IntN(3) > 0, w)
				if r.IntN(4) == 0 {
					eps[i].Weight = uint32(1 + r.IntN(500))
				}
			}
			b := newBalancer(t, balancer.Config{Local: local, Policy: policy, Rand: seeded(uint64(set))}, eps)
			st, m := b.State(), byID(eps)
			for range 100 {
				mask := r.Uint64()
				exclude := func(id string) bool {
					a := netip.MustParseAddrPort(id).Addr().As4()
					return mask>>(a[3]%64)&1 == 1 && mask&0xf == 0
				}
				p, err := b.Pick(nil, exclude)
				checkPick(t, m, st, local, exclude, p, err)
				p.Done(time.Duration(r.IntN(100))*time.Millisecond, balancer.Result(r.IntN(3)))
			}
		}
	}
}

func TestStatsSurviveUpdatesAndAreDroppedWithTheirInstance(t *testing.T) {
	clock := new(manualClock)
	a, c := endpoint(1, local, true, 100), endpoint(2, local, true, 100)
	b := newBalancer(t, balancer.Config{Local: local, Now: clock.Now}, []balancer.Endpoint{a})
	p, err := b.Pick(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Done(200*time.Millisecond, balancer.Failed)
	held, _ := b.Pick(nil, nil) // stays in flight across the updates

	want := balancer.Stats{InFlight: 1, Latency: 200 * time.Millisecond, Success: 15.0 / 16}
	check := func(step string, want balancer.Stats) {
		t.Helper()
		got, ok := b.Stats(a.Instance.ID)
		if !ok {
			t.Fatalf("%s: Stats(%s) not found", step, a.Instance.ID)
		}
		if got.InFlight != want.InFlight || math.Abs(float64(got.Latency-want.Latency)) > float64(want.Latency)/1000 || math.Abs(got.Success-want.Success) > 1e-4 {
			t.Fatalf("%s: Stats = %+v, want %+v", step, got, want)
		}
	}
	check("after the first outcome", want)

	if err := b.Update([]balancer.Endpoint{a, c}); err != nil {
		t.Fatal(err)
	}
	check("after an update that keeps the instance", want)

	if err := b.Update([]balancer.Endpoint{c}); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Stats(a.Instance.ID); ok {
		t.Fatalf("Stats(%s) found after the instance was removed", a.Instance.ID)
	}
	held.Done(time.Millisecond, balancer.Succeeded) // the outcome of a removed instance is harmless

	if err := b.Update([]balancer.Endpoint{a, c}); err != nil {
		t.Fatal(err)
	}
	check("after the instance came back", balancer.Stats{InFlight: 0, Latency: balancer.DefaultRTT, Success: 1})
}

func TestDoneOnZeroPickIsANoOp(t *testing.T) {
	var p balancer.Pick
	p.Done(time.Second, balancer.Failed) // must not panic
}

func TestInstanceWithoutLocalityIsLocalToAGatewayWithoutOne(t *testing.T) {
	b := newBalancer(t, balancer.Config{}, []balancer.Endpoint{endpoint(1, discovery.Locality{}, true, 1)})
	p, err := b.Pick(nil, nil)
	if err != nil || p.Tier != discovery.SameZone {
		t.Fatalf("Pick = tier %d, %v; want SameZone", p.Tier, err)
	}
	p.Done(0, balancer.Succeeded)
}

// TestConcurrentPickAndUpdate runs pickers against a stream of updates under
// the race detector: every pick comes from one of the published sets, and
// in-flight counts return to zero.
func TestConcurrentPickAndUpdate(t *testing.T) {
	setA := tiered([4]int{3, 3}, [4]int{3, 3})
	setB := tiered([4]int{3, 3, 3}, [4]int{1, 3, 3})
	all := byID(append(append([]balancer.Endpoint{}, setA...), setB...))
	for _, policy := range policies {
		t.Run(policy.String(), func(t *testing.T) {
			b := newBalancer(t, balancer.Config{Local: local, Policy: policy}, setA)
			const pickers, picksEach, updates = 4, 5000, 200
			var wg sync.WaitGroup
			errs := make(chan error, pickers)
			for g := range pickers {
				wg.Go(func() {
					for i := range picksEach {
						exclude := func(id string) bool { return i%3 == 0 && id == setA[g].Instance.ID }
						p, err := b.Pick(nil, exclude)
						if err != nil {
							errs <- fmt.Errorf("picker %d: %w", g, err)
							return
						}
						if _, ok := all[p.Instance.ID]; !ok || exclude(p.Instance.ID) {
							errs <- fmt.Errorf("picker %d: picked %s", g, p.Instance.ID)
							return
						}
						p.Done(time.Duration(i%50)*time.Microsecond, balancer.Result(i%3))
					}
				})
			}
			wg.Go(func() {
				for i := range updates {
					set := setA
					if i%2 == 1 {
						set = setB
					}
					if err := b.Update(set); err != nil {
						errs <- err
						return
					}
					_ = b.State()
				}
			})
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if err := b.Update(setA); err != nil {
				t.Fatal(err)
			}
			for _, ep := range setA {
				if s, _ := b.Stats(ep.Instance.ID); s.InFlight != 0 {
					t.Errorf("Stats(%s).InFlight = %d after every Done, want 0", ep.Instance.ID, s.InFlight)
				}
			}
		})
	}
}

func TestPickAndDoneDoNotAllocate(t *testing.T) {
	eps := tiered([4]int{5, 5, 5, 5}, [4]int{2, 5, 5, 5})
	failed := eps[0].Instance.ID
	exclude := func(id string) bool { return id == failed }
	for _, policy := range policies {
		b := newBalancer(t, balancer.Config{Local: local, Policy: policy}, eps)
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := b.Pick(nil, exclude)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(time.Millisecond, balancer.Succeeded)
			_ = b.State()
		})
		if allocs != 0 {
			t.Errorf("%s: Pick+Done+State allocate %v times per run, want 0", policy, allocs)
		}
	}
}
