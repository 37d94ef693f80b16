// Package discovery models service instances and the registries that report
// them.
//
// An [Instance] is one addressable copy of a service with a [Locality] (cloud,
// region, zone) and labels. Sources (a static file, DNS, etcd, Consul, …)
// report instances; an aggregator merges them into one immutable
// [ServiceView] per service, which the data plane reads without locks.
package discovery
