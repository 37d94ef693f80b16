package discovery

import "maps"

// Explanation says, for one service, what each source reports and why each
// instance is published or not: what `duohuo discovery dump` prints.
type Explanation struct {
	Service string `json:"service"`
	// Revision is the published view's revision (0: none published).
	Revision uint64 `json:"revision"`
	// Sources are every source of the aggregator in precedence order,
	// those that do not report the service included.
	Sources []SourceReport `json:"sources"`
}

// SourceReport is what one source says about one service.
type SourceReport struct {
	Source     string `json:"source"`
	Precedence int    `json:"precedence"`
	// Reports is false when the source's last accepted report does not
	// name the service.
	Reports   bool                `json:"reports"`
	Stale     bool                `json:"stale"`
	LastError string              `json:"last_error,omitempty"`
	Instances []ExplainedInstance `json:"instances"`
	// Held is a report that dropped too many of the service's instances
	// at once, waiting for confirmation while Instances serve.
	Held *HeldReport `json:"held,omitempty"`
}

// ExplainedInstance is an instance of a source's last accepted report and
// its fate in the merged view.
type ExplainedInstance struct {
	Instance
	// Published is true when the instance is in the view.
	Published bool `json:"published"`
	// Why says why not: "address also reported by S, which ranks higher",
	// "id also used by S, which ranks higher".
	Why string `json:"why,omitempty"`
}

// HeldReport is a held drop: the report as the source last sent it.
type HeldReport struct {
	// Reports is how many consecutive reports kept the drop.
	Reports int `json:"reports"`
	// Withdrawn is true when the report no longer names the service at
	// all; Instances is then empty.
	Withdrawn bool       `json:"withdrawn"`
	Instances []Instance `json:"instances"`
}

// Explain returns what every source says about service, and the merge's
// verdict on each instance, by the rules of [Aggregator] (precedence, then
// first address and first ID win). It copies what it returns.
func (a *Aggregator) Explain(service string) Explanation {
	a.mu.Lock()
	defer a.mu.Unlock()
	ex := Explanation{Service: service}
	if v := (*a.views.Load())[service]; v != nil {
		ex.Revision = v.Revision
	}
	byAddr := map[[18]byte]string{}
	byID := map[string]string{}
	for _, st := range a.sources {
		r := SourceReport{Source: st.status.Name, Precedence: st.status.Precedence, Stale: st.status.Stale, LastError: st.status.LastError}
		list, has := st.services[service]
		r.Reports = has
		for _, in := range list {
			in = in.clone()
			e := ExplainedInstance{Instance: in}
			ak := addrKey(in)
			if by, dup := byAddr[ak]; dup {
				e.Why = "address also reported by " + by + ", which ranks higher"
			} else if by, dup := byID[in.ID]; dup {
				e.Why = "id also used by " + by + ", which ranks higher"
			} else {
				e.Published = true
				byAddr[ak], byID[in.ID] = r.Source, r.Source
			}
			r.Instances = append(r.Instances, e)
		}
		if h := st.held[service]; h != nil {
			hr := &HeldReport{Reports: h.reports, Withdrawn: !h.present}
			for _, in := range h.list {
				hr.Instances = append(hr.Instances, in.clone())
			}
			r.Held = hr
		}
		ex.Sources = append(ex.Sources, r)
	}
	return ex
}

// clone returns in with its maps copied.
func (in Instance) clone() Instance {
	in.Labels = maps.Clone(in.Labels)
	in.Metadata = maps.Clone(in.Metadata)
	return in
}
