package discovery

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"unicode/utf8"
)

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
	// Metadata is free information about the instance for people and the
	// admin API (pod name, SRV target, registration time). Unlike Labels,
	// nothing routes or selects on it.
	Metadata map[string]string `json:"metadata,omitempty"`
	// HealthUnknown says the registry reported the instance but could not
	// vouch for its health: a Nacos service past its protect threshold
	// reports every instance as healthy, the unhealthy ones included. Such
	// an instance is published like any other, and duohuo's own checks
	// (active probes, outlier detection) decide whether it takes traffic;
	// a consumer that counts registry-healthy instances must not count it.
	// False means the source either vouches for the instance (Consul
	// passing or warning, Nacos healthy) or checks no health at all (a
	// file, DNS).
	HealthUnknown bool `json:"health_unknown,omitempty"`
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

// MaxWeight is the largest weight an instance may carry. It is the range of a
// DNS SRV weight (RFC 2782), so every registry's weight maps onto it without
// loss; Nacos' 0–10000 fits as is.
const MaxWeight = 1<<16 - 1

// Validate reports whether in can be published: a unicast address with a
// port, a weight of at most [MaxWeight], and an ID, locality, labels and
// metadata free of control characters. An empty ID is valid (the aggregator fills in
// [AddrID]). The error wraps [ErrInvalidAddr], [ErrInvalidWeight] or
// [ErrInvalidField].
func (in Instance) Validate() error {
	a := in.Addr.Addr()
	switch {
	case !in.Addr.IsValid():
		return fmt.Errorf("%w: missing or malformed", ErrInvalidAddr)
	case in.Addr.Port() == 0:
		return fmt.Errorf("%w: %s has port 0", ErrInvalidAddr, in.Addr)
	case a.IsUnspecified() || a.IsMulticast():
		return fmt.Errorf("%w: %s is not a unicast address", ErrInvalidAddr, in.Addr)
	}
	if in.Weight > MaxWeight {
		return fmt.Errorf("%w: %d is above %d", ErrInvalidWeight, in.Weight, MaxWeight)
	}
	if err := checkText("id", in.ID, 256); err != nil {
		return err
	}
	for _, f := range [...]struct{ name, v string }{
		{"cloud", in.Locality.Cloud}, {"region", in.Locality.Region}, {"zone", in.Locality.Zone},
	} {
		if err := checkText(f.name, f.v, 63); err != nil {
			return err
		}
		if strings.Contains(f.v, "/") {
			// Locality.String joins the parts with "/".
			return fmt.Errorf("%w: %s %q contains '/'", ErrInvalidField, f.name, f.v)
		}
	}
	for k, v := range in.Labels {
		if k == "" {
			return fmt.Errorf("%w: empty label name", ErrInvalidField)
		}
		if err := checkText("label name", k, 63); err != nil {
			return err
		}
		if err := checkText("label "+k, v, 256); err != nil {
			return err
		}
	}
	for k, v := range in.Metadata {
		if k == "" {
			return fmt.Errorf("%w: empty metadata name", ErrInvalidField)
		}
		if err := checkText("metadata name", k, 253); err != nil {
			return err
		}
		if err := checkText("metadata "+k, v, 1024); err != nil {
			return err
		}
	}
	return nil
}

// ValidLabel reports whether k=v can be a label of an instance, by the rule
// [Instance.Validate] applies: a name of 1 to 63 bytes and a value of at
// most 256, without control characters. Registry sources use it to sort a
// registry's metadata into labels and [Instance.Metadata].
func ValidLabel(k, v string) bool {
	return k != "" && checkText("label name", k, 63) == nil && checkText("label", v, 256) == nil
}

// ValidMetadata reports whether k=v can be an entry of an instance's
// Metadata: a name of 1 to 253 bytes and a value of at most 1024, without
// control characters.
func ValidMetadata(k, v string) bool {
	return k != "" && checkText("metadata name", k, 253) == nil && checkText("metadata", v, 1024) == nil
}

// ValidLocalityPart reports whether v can be a cloud, region or zone: at
// most 63 bytes, no control characters and no '/'.
func ValidLocalityPart(v string) bool {
	return checkText("locality", v, 63) == nil && !strings.Contains(v, "/")
}

// CheckService reports whether name can name a service: 1 to 253 characters
// from letters, digits, '.', '-' and '_'. The error wraps
// [ErrInvalidService].
func CheckService(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%w: %q must have 1 to 253 characters", ErrInvalidService, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("%w: %q contains %q", ErrInvalidService, name, r)
		}
	}
	return nil
}

func checkText(field, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalidField, field, max)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return fmt.Errorf("%w: %s %q contains a control or invalid character", ErrInvalidField, field, v)
		}
	}
	return nil
}

// equal reports whether two instances publish the same thing.
func (in Instance) equal(o Instance) bool {
	return in.ID == o.ID && in.Addr == o.Addr && in.Weight == o.Weight &&
		in.Locality == o.Locality && in.Source == o.Source && in.HealthUnknown == o.HealthUnknown &&
		maps.Equal(in.Labels, o.Labels) && maps.Equal(in.Metadata, o.Metadata)
}
