// Package discoverytest provides an in-memory [discovery.Source] and helpers
// for the tests of packages that consume discovery.
//
// [Source] is a fake: it stands in for a registry in tests of the gateway,
// the balancer or the admin API, where what matters is what the registry
// says, not how it is reached. The real sources (discovery/static,
// discovery/dns) are tested against real files and a real DNS server.
//
//	src := discoverytest.NewSource("fake")
//	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
//	defer agg.Close()
//	agg.Add(src)
//	src.Set(map[string][]discovery.Instance{"api": discoverytest.Instances("127.0.0.1:8080")})
//	v := discoverytest.WaitView(t, agg, "api", func(v *discovery.ServiceView) bool { return len(v.Instances) == 1 })
package discoverytest
