package color_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/duohuo/duohuo/color"
)

var nop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// BenchmarkMiddleware is the per-request cost of the server middleware:
// uncolored requests (the common case) and a trusted colored one.
func BenchmarkMiddleware(b *testing.B) {
	p := mustNew(b, color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	h := p.Middleware(nop)
	w := httptest.NewRecorder()
	b.Run("uncolored", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:5000"
		r.Header.Set("Baggage", "userId=alice")
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("trusted", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.1:5000"
		r.Header.Set("X-Gray-Id", "gray")
		r.Header.Set("Baggage", "userId=alice,gray.lane=gray")
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
	b.Run("untrusted-stripped", func(b *testing.B) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.1:5000"
		r.Header.Set("X-Gray-Id", "gray")
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	})
}

// BenchmarkTransport is the client side's added cost on a colored call
// (the request copy and two headers), against a RoundTripper that does
// nothing.
func BenchmarkTransport(b *testing.B) {
	p := mustNew(b, color.Config{})
	resp := &http.Response{StatusCode: 200, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
		ctx  context.Context
	}{
		{"base", base, color.WithLane(context.Background(), "gray")},
		{"uncolored", p.Transport(base), context.Background()},
		{"colored", p.Transport(base), color.WithLane(context.Background(), "gray")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequestWithContext(bc.ctx, "GET", "http://b/", nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.rt.RoundTrip(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSetBaggage(b *testing.B) {
	h := "userId=alice,serverNode=DF%2028,isProduction=false"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := color.SetBaggage(h, "gray.lane", "gray"); err != nil {
			b.Fatal(err)
		}
	}
}
