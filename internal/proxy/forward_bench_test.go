package proxy

import (
	"context"
	"net/http/httptest"
	"testing"
)

// BenchmarkOutbound is the per-attempt cost of building the upstream request
// (header copy, X-Forwarded-*, Via, request id) for a typical client request.
func BenchmarkOutbound(b *testing.B) {
	f := &Forwarder{Via: "duohuo"}
	in := httptest.NewRequest("GET", "http://api.example.com/v1/items?id=7", nil)
	in.RemoteAddr = "192.0.2.10:40000"
	in.Header.Set("User-Agent", "wrk")
	in.Header.Set("Accept", "*/*")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out := f.Outbound(ctx, in, "http", "127.0.0.1:8080", "5f3a9c0e1d2b4a67", nil)
		if len(out.Header) != 7 {
			b.Fatalf("outbound has %d headers, want 7", len(out.Header))
		}
	}
}

// BenchmarkRequestID is the cost of a fresh request id.
func BenchmarkRequestID(b *testing.B) {
	in := httptest.NewRequest("GET", "http://x/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if RequestID(in) == "" {
			b.Fatal("empty request id")
		}
	}
}
