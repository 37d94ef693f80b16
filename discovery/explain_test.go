package discovery_test

import (
	"strings"
	"testing"

	"github.com/duohuo/duohuo/discovery/discoverytest"
)

// Explain says what each source reports and why an instance is not
// published: another source of higher precedence has its address or its
// id; and shows a held drop beside what serves.
func TestExplainSaysWhyEachInstanceIsInOrOut(t *testing.T) {
	a := guarded(t)
	srcs := start(t, a, report{"api": discoverytest.Instances("10.0.0.1:80", "10.0.0.2:80")}, report{"api": discoverytest.Instances("10.0.0.2:80", "10.0.0.3:80")})
	same := discoverytest.Instances("10.0.0.9:80")
	same[0].ID = "10.0.0.1:80" // another address, an id taken above
	if err := srcs[1].Set(report{"api": append(discoverytest.Instances("10.0.0.2:80", "10.0.0.3:80"), same...)}); err != nil {
		t.Fatal(err)
	}
	ex := a.Explain("api")
	if ex.Revision == 0 || len(ex.Sources) != 2 {
		t.Fatalf("Explain = %+v; want a revision and two sources", ex)
	}
	verdict := map[string]string{}
	for _, r := range ex.Sources {
		if !r.Reports {
			t.Errorf("%s: Reports = false", r.Source)
		}
		for _, in := range r.Instances {
			v := "published"
			if !in.Published {
				v = in.Why
			}
			verdict[r.Source+" "+in.Addr.String()] = v
		}
	}
	first, second := ex.Sources[0].Source, ex.Sources[1].Source
	want := map[string]string{
		first + " 10.0.0.1:80":  "published",
		first + " 10.0.0.2:80":  "published",
		second + " 10.0.0.2:80": "address also reported by " + first,
		second + " 10.0.0.3:80": "published",
		second + " 10.0.0.9:80": "id also used by " + first,
	}
	for k, w := range want {
		if !strings.HasPrefix(verdict[k], w) {
			t.Errorf("%s: %q, want %q…", k, verdict[k], w)
		}
	}

	// The first source loses both instances at once: held.
	if err := srcs[0].Set(report{"api": {}}); err != nil {
		t.Fatal(err)
	}
	ex = a.Explain("api")
	h := ex.Sources[0].Held
	if h == nil || h.Reports != 1 || h.Withdrawn || len(h.Instances) != 0 || len(ex.Sources[0].Instances) != 2 {
		t.Errorf("after a drop: source 0 = %+v, held %+v; want two serving and an empty report held", ex.Sources[0], h)
	}
	if ex := a.Explain("nothing"); ex.Revision != 0 || len(ex.Sources) != 2 || ex.Sources[0].Reports {
		t.Errorf("Explain(unknown) = %+v", ex)
	}
}
