package gray_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/duohuo/duohuo/gray"
)

// FuzzCompile feeds arbitrary JSON policies through ParsePolicy and
// Compile: they never panic, a refusal always wraps ErrInvalid with field
// errors, and an accepted policy routes any request to one of its subsets,
// the same way twice, and round-trips through Router.Policy.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(fivePercent), "alice", "yes", "")
	f.Add([]byte(`{"rules": [{"subset": "v9"}]}`), "", "", "")
	f.Add([]byte(`{"subsets": [{"name": "v2", "labels": {"version": "v2"}}], "rules": [{"subset": "v2", "headers": [{"name": "x", "regex": "a(b|c)*d"}], "sources": ["10.0.0.0/8", "::1"]}], "weights": [{"subset": "v2", "weight": 3}, {"subset": "baseline", "weight": 1}], "mode": "strict", "salt": "s"}`), "u", "abd", "v2")
	f.Add([]byte(`{"rules": [{"subset": "baseline", "cookies": [{"name": "c", "one_of": ["a", "b"], "invert": true}], "query": [{"name": "q", "present": true}]}]}`), "", "", "baseline")
	f.Add([]byte(`{"rules": [{"subset": "baseline", "user_hash": {"cookie": "uid", "percent": 12.34}}]}`), "u", "", "")
	f.Add([]byte(`{"rules": [{"subset": "baseline", "baggage": [{"name": "tenant", "regex": "a%.*"}]}]}`), "u", "tenant=a%25b,x=1", "")
	f.Fuzz(func(t *testing.T, policy []byte, user, header, color string) {
		p, err := gray.ParsePolicy(policy)
		if err != nil {
			return
		}
		r, err := gray.Compile(p)
		if err != nil {
			if !errors.Is(err, gray.ErrInvalid) || len(gray.FieldErrors(err)) == 0 {
				t.Fatalf("Compile error %v: want ErrInvalid with field errors", err)
			}
			return
		}
		v, err := gray.Probe{
			Headers: map[string]string{"x-user-id": user, "x": header, "x-tester": header, "baggage": header},
			Cookies: map[string]string{"uid": user, "c": header},
			Query:   map[string]string{"q": header},
			Source:  "10.1.2.3",
		}.View()
		if err != nil {
			t.Fatal(err)
		}
		names := r.Subsets()
		d1 := r.RouteRoll(v, color, 7)
		d2 := r.RouteRoll(v, color, 7)
		if d1 != d2 {
			t.Fatalf("RouteRoll not deterministic: %+v then %+v", d1, d2)
		}
		if d1.Index < 0 || d1.Index >= len(names) || names[d1.Index] != d1.Subset {
			t.Fatalf("decision %+v does not name one of %v", d1, names)
		}
		again, err := json.Marshal(r.Policy())
		if err != nil {
			t.Fatal(err)
		}
		p2, err := gray.ParsePolicy(again)
		if err != nil {
			t.Fatalf("Router.Policy does not parse back: %v", err)
		}
		if _, err := gray.Compile(p2); err != nil {
			t.Fatalf("Router.Policy does not compile back: %v", err)
		}
	})
}

// FuzzBucket checks the bucket's range and its monotonic use: a user in at
// p percent is in at every higher percentage.
func FuzzBucket(f *testing.F) {
	f.Add("", "alice", uint16(500))
	f.Add("release-42", "user-0", uint16(0))
	f.Add("s", "", uint16(10000))
	f.Fuzz(func(t *testing.T, salt, id string, pct uint16) {
		b := gray.Bucket(salt, id)
		if b >= gray.Buckets {
			t.Fatalf("Bucket(%q, %q) = %d, out of range", salt, id, b)
		}
		if b != gray.Bucket(salt, id) {
			t.Fatalf("Bucket(%q, %q) is not deterministic", salt, id)
		}
		if len(salt) > 256 {
			return // Compile refuses longer salts
		}
		low := float64(pct%10001) / 100
		in := func(p float64) bool {
			r := mustCompile(t, gray.Policy{Salt: salt, Subsets: twoSubsets, Rules: []gray.Rule{{Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: p}}}})
			v, _ := gray.Probe{Headers: map[string]string{"x-user-id": id}}.View()
			return r.Route(v, "").Subset == "v2"
		}
		if id != "" && in(low) && !in(100) {
			t.Fatalf("user %q in at %v%% but not at 100%%", id, low)
		}
	})
}
