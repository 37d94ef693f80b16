package gray_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/gray"
)

func inst(addr string, labels map[string]string) discovery.Instance {
	ap := netip.MustParseAddrPort(addr)
	return discovery.Instance{ID: discovery.AddrID(ap), Addr: ap, Weight: 100, Labels: labels}
}

func ids(ins []discovery.Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.ID)
	}
	return out
}

func TestPartition(t *testing.T) {
	instances := []discovery.Instance{
		inst("10.0.0.1:80", map[string]string{"version": "v1"}),
		inst("10.0.0.2:80", map[string]string{"version": "v2"}),
		inst("10.0.0.3:80", map[string]string{"version": "v2", "lane": "gray"}),
		inst("10.0.0.4:80", nil),
	}
	tests := []struct {
		name   string
		policy gray.Policy
		want   map[string][]string
	}{
		{
			"the implicit baseline holds what no subset selects; overlapping subsets share",
			gray.Policy{Subsets: twoSubsets},
			map[string][]string{"v2": {"10.0.0.2:80", "10.0.0.3:80"}, "gray": {"10.0.0.3:80"}, "baseline": {"10.0.0.1:80", "10.0.0.4:80"}},
		},
		{
			"an explicit baseline holds only what its labels select",
			gray.Policy{Subsets: []gray.Subset{{Name: "v1", Labels: map[string]string{"version": "v1"}}, twoSubsets[0]}, Baseline: "v1"},
			map[string][]string{"v1": {"10.0.0.1:80"}, "v2": {"10.0.0.2:80", "10.0.0.3:80"}},
		},
		{
			"the zero policy puts everything in the baseline",
			gray.Policy{},
			map[string][]string{"baseline": {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCompile(t, tt.policy)
			parts := r.Partition(instances)
			got := map[string][]string{}
			for i, name := range r.Subsets() {
				if len(parts[i]) > 0 {
					got[name] = ids(parts[i])
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Partition (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubsetMatches(t *testing.T) {
	s := gray.Subset{Name: "v2", Labels: map[string]string{"version": "v2", "cloud": "ecloud"}}
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"all labels present with the same values", map[string]string{"version": "v2", "cloud": "ecloud", "zone": "a"}, true},
		{"one label with another value", map[string]string{"version": "v2", "cloud": "ctyun"}, false},
		{"one label missing", map[string]string{"version": "v2"}, false},
		{"no labels", nil, false},
	}
	for _, tt := range tests {
		if got := s.Matches(tt.labels); got != tt.want {
			t.Errorf("%s: Matches(%v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if (gray.Subset{Name: "all"}).Matches(map[string]string{"a": "b"}) {
		t.Errorf("a subset without labels matched an instance")
	}
}

func TestFallback(t *testing.T) {
	tests := []struct {
		name   string
		mode   gray.Mode
		color  string
		want   string
		wantOK bool
	}{
		{"permissive falls back from a lane to the baseline", gray.Permissive, "gray", "baseline", true},
		{"the default mode is permissive", "", "gray", "baseline", true},
		{"strict fails instead", gray.Strict, "gray", "", false},
		{"the baseline has nowhere to fall back to", gray.Permissive, "baseline", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCompile(t, gray.Policy{Subsets: twoSubsets, Mode: tt.mode})
			d := r.Route(req{}.view(), tt.color)
			fb, ok := r.Fallback(d)
			if ok != tt.wantOK || fb.Subset != tt.want || (ok && fb.Reason != gray.ByFallback) {
				t.Errorf("Fallback(%+v) = %+v, %v; want subset %q, %v", d, fb, ok, tt.want, tt.wantOK)
			}
		})
	}
}
