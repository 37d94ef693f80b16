package consul

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/duohuo/duohuo/discovery"
)

// entry is one element of GET /v1/health/service/:service: a node, a
// service instance on it, and the checks of both. Entries are decoded one
// by one, so that one malformed entry does not hide the others.
type entry struct {
	Node struct {
		Node       string            `json:"Node"`
		Address    string            `json:"Address"`
		Datacenter string            `json:"Datacenter"`
		Meta       map[string]string `json:"Meta"`
	} `json:"Node"`
	Service struct {
		ID      string            `json:"ID"`
		Service string            `json:"Service"`
		Tags    []string          `json:"Tags"`
		Address string            `json:"Address"`
		Port    int64             `json:"Port"`
		Meta    map[string]string `json:"Meta"`
		Weights *struct {
			Passing int64 `json:"Passing"`
			Warning int64 `json:"Warning"`
		} `json:"Weights"`
	} `json:"Service"`
	Checks []struct {
		CheckID string `json:"CheckID"`
		Status  string `json:"Status"`
	} `json:"Checks"`

	err error // why the element could not be decoded
}

// decodeHealth reads an answer: a JSON array of entries. An element that is
// not an entry is kept with its error, and convert leaves it out.
func decodeHealth(b []byte) ([]entry, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: health list: %w", ErrBadAnswer, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: health list is null", ErrBadAnswer)
	}
	out := make([]entry, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			out[i] = entry{err: err}
		}
	}
	return out, nil
}

// status is an aggregated health state, worst last.
type status int

const (
	passing status = iota
	warning
	critical
)

// state is the worst of an entry's checks, as Consul's own
// AggregatedStatus: maintenance and any unknown status count as critical,
// and an entry without checks is passing.
func (e *entry) state() status {
	st := passing
	for _, c := range e.Checks {
		switch c.Status {
		case "passing":
		case "warning":
			st = max(st, warning)
		default: // "critical", "maintenance", anything else
			return critical
		}
	}
	return st
}

// list is an answer turned into instances.
type list struct {
	instances []discovery.Instance // never nil
	bad       []error              // entries left out, each wrapping ErrBadInstance
}

// convert maps an answer to instances: it keeps the entries with every
// configured tag and a usable health state, and scales their weights.
func (s *Source) convert(ans []entry) list {
	out := list{instances: []discovery.Instance{}}
	type kept struct {
		in discovery.Instance
		w  int64
	}
	var ks []kept
	seen := make(map[netip.AddrPort]int, len(ans))
	var maxW int64
	for i := range ans {
		e := &ans[i]
		if e.err != nil {
			out.bad = append(out.bad, fmt.Errorf("%w: entry %d: %w", ErrBadInstance, i, e.err))
			continue
		}
		if !hasTags(e.Service.Tags, s.cfg.Tags) {
			continue
		}
		st := e.state()
		if st == critical || (st == warning && s.cfg.OnlyPassing) {
			continue
		}
		in, err := s.instance(e)
		if err != nil {
			out.bad = append(out.bad, fmt.Errorf("%w: entry %d (node %q, service %q): %w", ErrBadInstance, i, e.Node.Node, e.Service.ID, err))
			continue
		}
		key := netip.AddrPortFrom(in.Addr.Addr().Unmap(), in.Addr.Port())
		if j, dup := seen[key]; dup {
			out.bad = append(out.bad, fmt.Errorf("%w: entry %d (%s): address also at entry %d", ErrBadInstance, i, in.Addr, j))
			continue
		}
		seen[key] = i
		// Consul's defaults when a registration gives no weights:
		// Passing 1, Warning 1.
		w := int64(1)
		if ws := e.Service.Weights; ws != nil {
			w = max(ws.Passing, 1) // Consul refuses a passing weight below 1
			if st == warning {
				w = max(ws.Warning, 0)
			}
		}
		ks = append(ks, kept{in, w})
		maxW = max(maxW, w)
	}
	scale := 100.0
	if float64(maxW)*scale > discovery.MaxWeight {
		scale = discovery.MaxWeight / float64(maxW)
	}
	for _, k := range ks {
		k.in.Weight = scaleWeight(k.w, scale)
		out.instances = append(out.instances, k.in)
	}
	return out
}

// scaleWeight maps a Consul weight to a duohuo weight: w × scale, rounded,
// at least 1 unless w is 0.
func scaleWeight(w int64, scale float64) uint32 {
	if w <= 0 {
		return 0
	}
	return uint32(min(max(float64(w)*scale+0.5, 1), discovery.MaxWeight))
}

func hasTags(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}

// instance maps one entry, without its weight.
func (s *Source) instance(e *entry) (discovery.Instance, error) {
	addr := e.Service.Address
	if addr == "" {
		// A service registered without an address listens on its
		// node's.
		addr = e.Node.Address
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" {
		return discovery.Instance{}, fmt.Errorf("%w: address %q is not an IP address", discovery.ErrInvalidAddr, addr)
	}
	if e.Service.Port < 1 || e.Service.Port > 65535 {
		return discovery.Instance{}, fmt.Errorf("%w: port %d is outside 1..65535", discovery.ErrInvalidAddr, e.Service.Port)
	}
	in := discovery.Instance{
		Addr:     netip.AddrPortFrom(ip.Unmap(), uint16(e.Service.Port)),
		Locality: s.cfg.Locality,
	}
	if err := in.Validate(); err != nil {
		return discovery.Instance{}, err
	}
	keys := s.cfg.LocalityKeys
	for _, meta := range []map[string]string{e.Node.Meta, e.Service.Meta} { // service meta last: it wins
		setLocality(&in.Locality.Cloud, meta[keys.Cloud])
		setLocality(&in.Locality.Region, meta[keys.Region])
		setLocality(&in.Locality.Zone, meta[keys.Zone])
	}
	for k, v := range e.Service.Meta {
		switch {
		case discovery.ValidLabel(k, v):
			if in.Labels == nil {
				in.Labels = make(map[string]string, len(e.Service.Meta))
			}
			in.Labels[k] = v
		case discovery.ValidMetadata(k, v):
			addMetadata(&in, k, v)
		}
	}
	for k, v := range map[string]string{
		"consul_node":       e.Node.Node,
		"consul_service_id": e.Service.ID,
		"consul_datacenter": e.Node.Datacenter,
		"consul_tags":       strings.Join(e.Service.Tags, ","),
	} {
		if v != "" && discovery.ValidMetadata(k, v) {
			addMetadata(&in, k, v)
		}
	}
	return in, nil
}

// setLocality sets *field to v when v can be a locality field (cloud,
// region and zone follow the same rules); a value that cannot is ignored.
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
