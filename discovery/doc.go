// Package discovery models service instances and the registries that report
// them, and merges those reports into one view per service.
//
// An [Instance] is one addressable copy of a service with a [Locality] (cloud,
// region, zone) and labels. A [Source] (a static list or file, DNS, etcd, …;
// see the sub-packages) reports instances through an [Updater]. An
// [Aggregator] runs its sources, validates every report (a bad one is refused
// with an [*UpdateError] and the source's last good report stays), merges
// them with a stated precedence, de-duplicated by address, into one immutable
// [ServiceView] per service, and publishes the views with an atomic swap: the
// data plane reads them without locks or allocations.
//
//	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
//	defer agg.Close()
//	agg.Add(static.New("static", services)) // highest precedence
//	agg.Add(dnsSource)                       // next
//	changes, cancel := agg.Subscribe()
//	defer cancel()
//	for range changes {
//		if v := agg.View("api"); v != nil {
//			balancer.Update(v.Instances)
//		}
//	}
//
// This package imports only the standard library; sources that need other
// modules live in sub-packages (discovery/static, discovery/dns).
package discovery
