package gateway

import (
	"net/url"
	"testing"
)

// BenchmarkNormalizeURL: the per-request path normalisation, on a clean
// path (the common case, in place) and on one with dot segments.
func BenchmarkNormalizeURL(b *testing.B) {
	for _, target := range []string{"/api/v1/orders/42", "/api/v1/../v2//orders/./42"} {
		u0, err := url.ParseRequestURI(target)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(target, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				u := *u0
				normalizeURL(&u)
			}
		})
	}
}

func BenchmarkSegmentPrefix(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		segmentPrefix("/public/assets/app.js", "/public")
		segmentPrefix("/publicity", "/public")
	}
}
