package balancer_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/discovery"
)

// Localities, one per tier as seen from local.
var (
	local      = discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"}
	sameRegion = discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1b"}
	sameCloud  = discovery.Locality{Cloud: "ctyun", Region: "cn-east-2", Zone: "cn-east-2a"}
	otherCloud = discovery.Locality{Cloud: "huawei", Region: "cn-south-1", Zone: "cn-south-1a"}
	tierLocs   = [balancer.NumTiers]discovery.Locality{local, sameRegion, sameCloud, otherCloud}
)

var policies = []balancer.Policy{balancer.PeakEWMA, balancer.RoundRobin, balancer.LeastRequest}

// endpoint returns the n-th test endpoint: a unique ID and address in
// 10.0.0.0/8, weight w (used as Instance.Weight).
func endpoint(n int, loc discovery.Locality, healthy bool, w uint32) balancer.Endpoint {
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 8080)
	return balancer.Endpoint{
		Instance: discovery.Instance{ID: addr.String(), Addr: addr, Weight: w, Locality: loc, Source: "test"},
		Healthy:  healthy,
	}
}

// tiered returns, for each tier t, total[t] endpoints of weight 100 of which
// the first healthy[t] are healthy.
func tiered(total, healthy [balancer.NumTiers]int) []balancer.Endpoint {
	var eps []balancer.Endpoint
	for t := range total {
		for i := range total[t] {
			eps = append(eps, endpoint(len(eps), tierLocs[t], i < healthy[t], 100))
		}
	}
	return eps
}

// seeded returns a deterministic random source (not safe for concurrent use).
func seeded(seed uint64) func() uint64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Uint64
}

// manualClock is a clock tests move by hand; safe for concurrent use.
type manualClock struct{ ns atomic.Int64 }

func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newBalancer(t testing.TB, cfg balancer.Config, eps []balancer.Endpoint) *balancer.Balancer {
	t.Helper()
	b, err := balancer.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	if err := b.Update(eps); err != nil {
		t.Fatalf("Update: %v", err)
	}
	return b
}

// byID indexes endpoints by instance ID.
func byID(eps []balancer.Endpoint) map[string]balancer.Endpoint {
	m := make(map[string]balancer.Endpoint, len(eps))
	for _, ep := range eps {
		m[ep.Instance.ID] = ep
	}
	return m
}

// checkPick checks the invariants of one Pick result against the endpoints
// the balancer was given and its State:
//   - a picked instance is one of eps, not drained, not excluded;
//   - its Tier is its locality's tier;
//   - it is unhealthy only if the pick says Panic, and Panic only if the
//     snapshot has its tier (or everything) in panic;
//   - ErrNoInstance only if no instance is eligible: not drained, not
//     excluded, and healthy or in a panicking tier.
func checkPick(t testing.TB, eps map[string]balancer.Endpoint, st balancer.State, local discovery.Locality, exclude func(string) bool, p balancer.Pick, err error) {
	t.Helper()
	excluded := func(id string) bool { return exclude != nil && exclude(id) }
	if err != nil {
		if !errors.Is(err, balancer.ErrNoInstance) {
			t.Fatalf("Pick: error %v, want ErrNoInstance", err)
		}
		for id, ep := range eps {
			drained := ep.Instance.Weight == 0
			tier := ep.Instance.Locality.TierFrom(local)
			inPanic := st.Panic || st.Tiers[tier].Panic
			if !drained && !excluded(id) && (ep.Healthy || inPanic) {
				t.Fatalf("Pick: ErrNoInstance, but %s (healthy=%v, tier %d, panic=%v) is eligible", id, ep.Healthy, tier, inPanic)
			}
		}
		return
	}
	ep, ok := eps[p.Instance.ID]
	switch {
	case !ok:
		t.Fatalf("Pick: %s is not one of the endpoints", p.Instance.ID)
	case ep.Instance.Weight == 0:
		t.Fatalf("Pick: %s is drained", p.Instance.ID)
	case excluded(p.Instance.ID):
		t.Fatalf("Pick: %s is excluded", p.Instance.ID)
	case p.Tier != ep.Instance.Locality.TierFrom(local):
		t.Fatalf("Pick: %s has tier %d, want %d", p.Instance.ID, p.Tier, ep.Instance.Locality.TierFrom(local))
	case !ep.Healthy && !p.Panic:
		t.Fatalf("Pick: unhealthy %s picked outside panic mode", p.Instance.ID)
	case p.Panic && !st.Panic && !st.Tiers[p.Tier].Panic:
		t.Fatalf("Pick: %s says panic but the state has tier %d out of panic", p.Instance.ID, p.Tier)
	}
}
