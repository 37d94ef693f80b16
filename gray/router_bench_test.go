package gray_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/request"
)

// benchPolicy has n rules of mixed kinds (header exact, prefix, regex,
// one-of, query, source CIDR), none of which the benchmark request
// matches, and a last rule with a 5% user hash: the worst case, where
// every rule is evaluated.
func benchPolicy(n int) gray.Policy {
	p := gray.Policy{Subsets: twoSubsets}
	for i := range n - 1 {
		h := fmt.Sprintf("x-h%d", i%8)
		var r gray.Rule
		switch i % 6 {
		case 0:
			r.Headers = []gray.Match{{Name: h, Exact: fmt.Sprintf("v%d", i)}}
		case 1:
			r.Headers = []gray.Match{{Name: h, Prefix: fmt.Sprintf("p%d-", i)}}
		case 2:
			r.Headers = []gray.Match{{Name: h, Regex: fmt.Sprintf("r%d-[0-9]+", i)}}
		case 3:
			r.Headers = []gray.Match{{Name: h, OneOf: []string{"a", "b", fmt.Sprintf("c%d", i)}}}
		case 4:
			r.Query = []gray.Match{{Name: "q", Exact: fmt.Sprintf("v%d", i)}}
		case 5:
			r.Sources = []string{fmt.Sprintf("10.%d.0.0/16", i%250)}
		}
		r.Subset = "gray"
		p.Rules = append(p.Rules, r)
	}
	p.Rules = append(p.Rules, gray.Rule{Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: 5}})
	return p
}

func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "http://shop.example.com/cart?q=zzz", nil)
	for i := range 8 {
		r.Header.Set(fmt.Sprintf("x-h%d", i), "no-match-value")
	}
	r.Header.Set("x-user-id", "user-9") // in the 5%: the last rule matches
	r.RemoteAddr = "192.0.2.10:40000"
	return r
}

// BenchmarkRoute measures one decision through every rule, with the
// request read through request.FromHTTP as the gateway does.
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			r := mustCompile(b, benchPolicy(n))
			v := request.FromHTTP(benchRequest())
			if d := r.Route(v, ""); d.Rule != n-1 {
				b.Fatalf("benchmark request matched rule %d, want the last (%d)", d.Rule, n-1)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Route(v, "")
			}
		})
	}
}

// BenchmarkRouteFirstRule is the common case of a match early in the list.
func BenchmarkRouteFirstRule(b *testing.B) {
	r := mustCompile(b, benchPolicy(100))
	req := benchRequest()
	req.Header.Set("x-h0", "v0")
	v := request.FromHTTP(req)
	b.ReportAllocs()
	for b.Loop() {
		r.Route(v, "")
	}
}

// BenchmarkRouteByColor is a colored request: one map lookup.
func BenchmarkRouteByColor(b *testing.B) {
	r := mustCompile(b, benchPolicy(100))
	v := request.FromHTTP(benchRequest())
	b.ReportAllocs()
	for b.Loop() {
		r.Route(v, "gray")
	}
}

// BenchmarkReadOnly is the baseline for BenchmarkRoute: reading the same
// request values through the view without matching anything, i.e. the
// part of a decision's cost that is the HTTP stack's, not gray's.
func BenchmarkReadOnly(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			v := request.FromHTTP(benchRequest())
			names := make([]string, n)
			for i := range names {
				names[i] = http.CanonicalHeaderKey(fmt.Sprintf("x-h%d", i%8))
			}
			b.ReportAllocs()
			var sink int
			for b.Loop() {
				for _, name := range names {
					sink += len(v.Header(name))
				}
				sink += len(v.Header("X-User-Id"))
			}
			_ = sink
		})
	}
}

func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	var sink uint32
	for b.Loop() {
		sink += gray.Bucket("release-42", "user-1234567890")
	}
	_ = sink
}

// BenchmarkStoreRouter is the request path's lookup of the live router.
func BenchmarkStoreRouter(b *testing.B) {
	s := gray.NewStore(gray.StoreConfig{})
	for i := range 50 {
		if _, err := s.Apply(fmt.Sprintf("route-%d", i), benchPolicy(10), 0, gray.Meta{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if s.Router("route-7") == nil {
			b.Fatal("no router")
		}
	}
}

// BenchmarkRouteOwnCost is BenchmarkRoute with the request in a gray.Probe
// view (map lookups, no URL parsing), isolating the rules' own cost from
// the HTTP stack's: request.FromHTTP parses the query string on every
// Query call, which is most of BenchmarkRoute's allocations.
func BenchmarkRouteOwnCost(b *testing.B) {
	headers := map[string]string{"x-user-id": "user-9"}
	for i := range 8 {
		headers[fmt.Sprintf("x-h%d", i)] = "no-match-value"
	}
	v, err := gray.Probe{Headers: headers, Query: map[string]string{"q": "zzz"}, Source: "192.0.2.10"}.View()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			r := mustCompile(b, benchPolicy(n))
			if d := r.Route(v, ""); d.Rule != n-1 {
				b.Fatalf("benchmark request matched rule %d, want the last (%d)", d.Rule, n-1)
			}
			b.ReportAllocs()
			for b.Loop() {
				r.Route(v, "")
			}
		})
	}
}
