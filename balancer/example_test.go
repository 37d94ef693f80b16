package balancer_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/discovery"
)

func instance(addr string, weight uint32, loc discovery.Locality) discovery.Instance {
	ap := netip.MustParseAddrPort(addr)
	return discovery.Instance{ID: discovery.AddrID(ap), Addr: ap, Weight: weight, Locality: loc}
}

// A gateway in ctyun zone cn-north-1a balances between two local instances
// (weights 2:1) and one in another cloud, which takes traffic only when the
// local zone fails.
func Example() {
	here := discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"}
	there := discovery.Locality{Cloud: "huawei", Region: "cn-south-1", Zone: "cn-south-1a"}
	b, err := balancer.New(balancer.Config{
		Policy: balancer.RoundRobin,
		Local:  here,
		Rand:   func() uint64 { return 0 }, // deterministic output for the example
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	eps := []balancer.Endpoint{
		{Instance: instance("10.0.0.1:8080", 200, here), Healthy: true},
		{Instance: instance("10.0.0.2:8080", 100, here), Healthy: true},
		{Instance: instance("10.9.0.1:8080", 100, there), Healthy: true},
	}
	if err := b.Update(eps); err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		p, err := b.Pick(nil, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(p.Instance.ID, "tier", p.Tier)
		p.Done(5*time.Millisecond, balancer.Succeeded)
	}

	// Health checking ejects both local instances: traffic fails over.
	eps[0].Healthy, eps[1].Healthy = false, false
	if err := b.Update(eps); err != nil {
		fmt.Println(err)
		return
	}
	p, _ := b.Pick(nil, nil)
	fmt.Println(p.Instance.ID, "tier", p.Tier)
	p.Done(40*time.Millisecond, balancer.Succeeded)

	st := b.State()
	serving, _ := st.Serving()
	fmt.Printf("serving tier %d; local zone %d/%d healthy\n", serving, st.Tiers[discovery.SameZone].Healthy, st.Tiers[discovery.SameZone].Total)
	// Output:
	// 10.0.0.2:8080 tier 0
	// 10.0.0.1:8080 tier 0
	// 10.0.0.1:8080 tier 0
	// 10.9.0.1:8080 tier 3
	// serving tier 3; local zone 0/2 healthy
}

// A retry excludes the instances already tried, so it lands elsewhere, and
// fails with ErrNoInstance once every instance has been tried.
func ExampleBalancer_Pick_retry() {
	here := discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"}
	b, _ := balancer.New(balancer.Config{Policy: balancer.LeastRequest, Local: here})
	_ = b.Update([]balancer.Endpoint{
		{Instance: instance("10.0.0.1:8080", 100, here), Healthy: true},
		{Instance: instance("10.0.0.2:8080", 100, here), Healthy: true},
	})

	tried := map[string]bool{}
	exclude := func(id string) bool { return tried[id] }
	for attempt := 1; ; attempt++ {
		p, err := b.Pick(nil, exclude)
		if errors.Is(err, balancer.ErrNoInstance) {
			fmt.Println("attempt", attempt, "gives up:", err)
			break
		}
		tried[p.Instance.ID] = true
		p.Done(time.Millisecond, balancer.Failed) // the upstream failed
		fmt.Println("attempt", attempt, "sent to a new instance:", len(tried) == attempt)
	}
	// Output:
	// attempt 1 sent to a new instance: true
	// attempt 2 sent to a new instance: true
	// attempt 3 gives up: balancer: no instance available
}
