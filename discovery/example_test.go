package discovery_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/duohuo/duohuo/discovery"
)

// fixed is a Source that reports one fixed list and waits.
type fixed struct {
	name string
	list []discovery.Instance
}

func (f fixed) Name() string { return f.name }
func (f fixed) Watch(ctx context.Context, u discovery.Updater) error {
	if err := u.Update(map[string][]discovery.Instance{"api": f.list}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func ExampleAggregator() {
	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer agg.Close()
	changes, cancel := agg.Subscribe()
	defer cancel()

	// The file ranks first: where it and DNS name the same address, the
	// file's weight and locality win.
	file := fixed{"file", []discovery.Instance{{
		Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 50,
		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1"},
	}}}
	dns := fixed{"dns", []discovery.Instance{
		{Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100},
		{Addr: netip.MustParseAddrPort("10.0.0.2:8080"), Weight: 100},
	}}
	_ = agg.Add(file)
	_ = agg.Add(dns)

	// Sources report on their own goroutines; wait until both have.
	for v := agg.View("api"); v == nil || len(v.Instances) < 2 || v.Instances[0].Source != "file"; v = agg.View("api") {
		<-changes // the gateway rebuilds its balancer here
	}
	for _, in := range agg.View("api").Instances {
		fmt.Println(in.ID, in.Weight, in.Locality, in.Source)
	}
	// Output:
	// 10.0.0.1:8080 50 ctyun/cn-north-1 file
	// 10.0.0.2:8080 100  dns
}
