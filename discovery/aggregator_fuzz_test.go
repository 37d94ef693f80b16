package discovery_test

import (
	"cmp"
	"net/netip"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/discovery"
)

// FuzzAggregatorMatchesModel feeds three sources random reports (few
// addresses and IDs, so they collide often) and checks the published views
// against a direct model of the stated precedence: per service, sources in
// rank order, an instance kept unless its address or ID is already taken;
// a source whose report repeats an address or ID is refused whole. The
// order in which the sources' goroutines deliver must not matter.
func FuzzAggregatorMatchesModel(f *testing.F) {
	f.Add([]byte{0, 0, 1, 5, 1, 0, 1, 7})             // same address from s0 and s1: s0 wins
	f.Add([]byte{0, 0, 1, 5, 0, 0, 1, 6})             // s0 repeats an address: refused
	f.Add([]byte{0, 1, 0x82, 1, 1, 1, 0x83, 2})       // same ID at two addresses: s0 wins
	f.Add([]byte{2, 0, 3, 9, 1, 1, 3, 9, 0, 0, 4, 1}) // three sources, two services
	f.Fuzz(func(t *testing.T, data []byte) {
		reports := make([]report, 3)
		for i := range reports {
			reports[i] = report{}
		}
		for ; len(data) >= 4; data = data[4:] {
			src, svc := int(data[0])%3, []string{"api", "web"}[data[1]%2]
			in := discovery.Instance{
				Addr:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1 + data[2]%4}), 80),
				Weight: uint32(data[3]),
			}
			if data[2]&0x80 != 0 {
				in.ID = string('a' + rune(data[2]>>4&1))
			}
			reports[src][svc] = append(reports[src][svc], in)
		}

		a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger})
		defer a.Close()
		startB(t, a, reports...)

		names := []string{"s0", "s1", "s2"}
		for _, svc := range []string{"api", "web"} {
			want := model(names, reports, svc)
			v := a.View(svc)
			if want == nil {
				if v != nil {
					t.Fatalf("View(%s) = %+v, want nil", svc, v)
				}
				continue
			}
			if v == nil {
				t.Fatalf("View(%s) = nil, want %+v", svc, want)
			}
			if diff := gocmp.Diff(want, v.Instances, cmpAddr); diff != "" {
				t.Fatalf("View(%s) differs from the model (-want +got):\n%s\nreports: %+v", svc, diff, reports)
			}
		}
	})
}

// model is the precedence rule written as plainly as possible.
func model(names []string, reports []report, svc string) []discovery.Instance {
	var out []discovery.Instance
	reported := false
	addrs, ids := map[netip.AddrPort]bool{}, map[string]bool{}
	for i, r := range reports {
		list, ok := r[svc]
		if !ok || !valid(r) {
			continue
		}
		reported = true
		for _, in := range list {
			if in.ID == "" {
				in.ID = discovery.AddrID(in.Addr)
			}
			if addrs[in.Addr] || ids[in.ID] {
				continue
			}
			addrs[in.Addr], ids[in.ID] = true, true
			in.Source = names[i]
			out = append(out, in)
		}
	}
	if !reported {
		return nil
	}
	slices.SortFunc(out, func(x, y discovery.Instance) int { return cmp.Compare(x.ID, y.ID) })
	if out == nil {
		out = []discovery.Instance{}
	}
	return out
}

// valid reports whether a whole report passes: no service repeats an
// address or an ID.
func valid(r report) bool {
	for _, list := range r {
		addrs, ids := map[netip.AddrPort]bool{}, map[string]bool{}
		for _, in := range list {
			id := cmp.Or(in.ID, discovery.AddrID(in.Addr))
			if addrs[in.Addr] || ids[id] {
				return false
			}
			addrs[in.Addr], ids[id] = true, true
		}
	}
	return true
}
