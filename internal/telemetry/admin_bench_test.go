package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/duohuo/duohuo/internal/telemetry"
)

// BenchmarkAdminAuthorizedRequest measures the token check plus routing for
// an API call mounted on the admin server (no network).
func BenchmarkAdminAuthorizedRequest(b *testing.B) {
	a, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0", Token: "s3cret-token"})
	if err != nil {
		b.Fatal(err)
	}
	a.Handle("GET /v1/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "pong") }))
	h := a.Handler()
	req := httptest.NewRequest(http.MethodGet, "/v1/ping", nil)
	req.Header.Set("Authorization", "Bearer s3cret-token")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
