package discovery

import "net/netip"

// Locality says where an instance runs. Priority between localities is, from
// nearest: same zone, same region, same cloud, other clouds.
type Locality struct {
	Cloud  string `json:"cloud,omitempty"`  // e.g. "ctyun", "ecloud", "huawei"
	Region string `json:"region,omitempty"` // e.g. "cn-north-1"
	Zone   string `json:"zone,omitempty"`   // e.g. "cn-north-1a"
}

// Tier is the distance between two localities, 0 nearest.
type Tier uint8

// The locality tiers, nearest first.
const (
	SameZone   Tier = iota // same cloud, region and zone
	SameRegion             // same cloud and region, another zone
	SameCloud              // same cloud, another region
	OtherCloud             // another cloud
)

// TierFrom returns how far l is from the point of view of local. Empty fields
// match only empty fields, so a gateway that does not say its zone treats all
// zones of its region alike.
func (l Locality) TierFrom(local Locality) Tier {
	switch {
	case l.Cloud != local.Cloud:
		return OtherCloud
	case l.Region != local.Region:
		return SameCloud
	case l.Zone != local.Zone:
		return SameRegion
	default:
		return SameZone
	}
}

// String returns "cloud/region/zone" with empty parts left out at the end.
func (l Locality) String() string {
	s := l.Cloud
	if l.Region != "" || l.Zone != "" {
		s += "/" + l.Region
	}
	if l.Zone != "" {
		s += "/" + l.Zone
	}
	return s
}

// Instance is one addressable copy of a service. Instances are values: a
// source that learns something new publishes a new Instance rather than
// changing one that was published.
type Instance struct {
	// ID is stable for the life of the instance: by default the address
	// ("10.0.0.1:8080"), so that the same instance reported by two sources
	// is one instance.
	ID   string         `json:"id"`
	Addr netip.AddrPort `json:"addr"`
	// Weight is the configured weight; 0 means drained (never picked).
	Weight   uint32            `json:"weight"`
	Locality Locality          `json:"locality"`
	Labels   map[string]string `json:"labels,omitempty"` // version, lane, …: what gray subsets select on
	Source   string            `json:"source"`           // which registry said so, e.g. "static", "dns:_api._tcp.example.com"
}

// DefaultWeight is the weight of an instance whose source states none.
const DefaultWeight = 100

// AddrID returns the default ID of an instance at addr: "10.0.0.1:8080",
// "[::1]:8080".
func AddrID(addr netip.AddrPort) string { return addr.String() }

// ServiceView is the immutable set of instances of one service at one moment.
// Readers must not modify it; a change produces a new ServiceView with a
// higher Revision.
type ServiceView struct {
	Service   string     `json:"service"`
	Instances []Instance `json:"instances"` // sorted by ID
	Revision  uint64     `json:"revision"`
}
