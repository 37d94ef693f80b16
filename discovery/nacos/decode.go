package nacos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/duohuo/duohuo/discovery"
)

// serviceInfo is the answer of GET /nacos/v1/ns/instance/list. Hosts are
// decoded one by one, so that one malformed host does not hide the others.
type serviceInfo struct {
	Name                     string            `json:"name"` // "GROUP@@service"
	Hosts                    []json.RawMessage `json:"hosts"`
	ReachProtectionThreshold bool              `json:"reachProtectionThreshold"`
}

// host is one instance of the answer. Absent fields take the defaults of
// the Nacos instance model (weight 1.0, healthy and enabled true).
type host struct {
	InstanceID  string            `json:"instanceId"`
	IP          string            `json:"ip"`
	Port        int64             `json:"port"`
	Weight      *float64          `json:"weight"`
	Healthy     *bool             `json:"healthy"`
	Enabled     *bool             `json:"enabled"`
	ClusterName string            `json:"clusterName"`
	Metadata    map[string]string `json:"metadata"`
}

// decodeList reads an instance-list answer.
func decodeList(b []byte) (*serviceInfo, error) {
	var info serviceInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%w: instance list: %w", ErrBadAnswer, err)
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil, fmt.Errorf("%w: instance list is null", ErrBadAnswer)
	}
	return &info, nil
}

// list is an answer turned into instances.
type list struct {
	instances []discovery.Instance // never nil: an empty list is a report
	empty     bool                 // the server listed no host at all
	bad       []error              // hosts left out, each wrapping ErrBadInstance
}

// convert maps an answer to instances: it leaves out disabled and (unless
// the protect threshold was reached) unhealthy hosts and hosts that cannot
// be instances, and scales the weights.
func (s *Source) convert(info *serviceInfo) list {
	out := list{instances: []discovery.Instance{}, empty: len(info.Hosts) == 0}
	type kept struct {
		in     discovery.Instance
		weight float64
	}
	var ks []kept
	seen := make(map[netip.AddrPort]int, len(info.Hosts))
	maxW := 0.0
	for i, raw := range info.Hosts {
		var h host
		if err := json.Unmarshal(raw, &h); err != nil {
			out.bad = append(out.bad, fmt.Errorf("%w: host %d: %w", ErrBadInstance, i, err))
			continue
		}
		if (h.Enabled != nil && !*h.Enabled) || (!info.ReachProtectionThreshold && h.Healthy != nil && !*h.Healthy) {
			continue
		}
		if len(s.cfg.Clusters) > 0 && !slices.Contains(s.cfg.Clusters, h.ClusterName) {
			continue // a server that ignored the clusters parameter
		}
		in, w, err := s.instance(h)
		if err != nil {
			out.bad = append(out.bad, fmt.Errorf("%w: host %d (%s:%d): %w", ErrBadInstance, i, h.IP, h.Port, err))
			continue
		}
		key := netip.AddrPortFrom(in.Addr.Addr().Unmap().WithZone(""), in.Addr.Port())
		if j, dup := seen[key]; dup {
			out.bad = append(out.bad, fmt.Errorf("%w: host %d (%s): address also at host %d", ErrBadInstance, i, in.Addr, j))
			continue
		}
		seen[key] = i
		in.HealthUnknown = info.ReachProtectionThreshold
		ks = append(ks, kept{in, w})
		maxW = max(maxW, w)
	}
	scale := 100.0
	if maxW*scale > discovery.MaxWeight {
		scale = discovery.MaxWeight / maxW
	}
	for _, k := range ks {
		k.in.Weight = scaleWeight(k.weight, scale)
		out.instances = append(out.instances, k.in)
	}
	return out
}

// scaleWeight maps a Nacos weight to a duohuo weight: w × scale, rounded,
// at least 1 unless w is 0.
func scaleWeight(w, scale float64) uint32 {
	if w <= 0 {
		return 0
	}
	return uint32(min(max(math.Round(w*scale), 1), discovery.MaxWeight))
}

// instance maps one host, without its weight scaled.
func (s *Source) instance(h host) (discovery.Instance, float64, error) {
	ip, err := netip.ParseAddr(h.IP)
	if err != nil || ip.Zone() != "" {
		return discovery.Instance{}, 0, fmt.Errorf("%w: ip %q is not an IP address", discovery.ErrInvalidAddr, h.IP)
	}
	if h.Port < 1 || h.Port > 65535 {
		return discovery.Instance{}, 0, fmt.Errorf("%w: port %d is outside 1..65535", discovery.ErrInvalidAddr, h.Port)
	}
	w := 1.0
	if h.Weight != nil {
		w = *h.Weight
	}
	if !(w >= 0) || math.IsInf(w, 0) {
		return discovery.Instance{}, 0, fmt.Errorf("%w: weight %v is negative", discovery.ErrInvalidWeight, w)
	}
	in := discovery.Instance{
		Addr:     netip.AddrPortFrom(ip.Unmap(), uint16(h.Port)),
		Locality: s.cfg.Locality,
	}
	if err := in.Validate(); err != nil {
		return discovery.Instance{}, 0, err
	}
	keys := s.cfg.LocalityKeys
	setLocality(&in.Locality.Cloud, h.Metadata[keys.Cloud])
	setLocality(&in.Locality.Region, h.Metadata[keys.Region])
	setLocality(&in.Locality.Zone, h.Metadata[keys.Zone])
	for k, v := range h.Metadata {
		switch {
		case discovery.ValidLabel(k, v):
			if in.Labels == nil {
				in.Labels = make(map[string]string, len(h.Metadata))
			}
			in.Labels[k] = v
		case discovery.ValidMetadata(k, v):
			addMetadata(&in, k, v)
		}
	}
	if discovery.ValidMetadata("nacos_cluster", h.ClusterName) && h.ClusterName != "" {
		addMetadata(&in, "nacos_cluster", h.ClusterName)
	}
	if discovery.ValidMetadata("nacos_instance_id", h.InstanceID) && h.InstanceID != "" {
		addMetadata(&in, "nacos_instance_id", h.InstanceID)
	}
	return in, w, nil
}

// setLocality sets *field to v when v can be a locality field (cloud,
// region and zone follow the same rules); a value that cannot is ignored,
// and the configured locality stays.
func setLocality(field *string, v string) {
	if v != "" && discovery.ValidLocalityPart(v) {
		*field = v
	}
}

func addMetadata(in *discovery.Instance, k, v string) {
	if in.Metadata == nil {
		in.Metadata = map[string]string{}
	}
	in.Metadata[k] = v
}
