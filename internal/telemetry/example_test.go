package telemetry_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/platform"
)

// Example builds an admin server that listens on all interfaces and so
// needs a token, and shows which paths the token guards. A real caller
// calls Start and Shutdown; Handler serves the same routes in-process.
func Example() {
	admin, err := telemetry.NewAdmin(telemetry.AdminOptions{
		Addr:     "0.0.0.0:9900",
		Token:    "s3cret",
		Registry: telemetry.NewRegistry(platform.Info{}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range []struct{ path, auth string }{
		{"/healthz", ""},
		{"/metrics", ""},
		{"/metrics", "Bearer s3cret"},
	} {
		req := httptest.NewRequest(http.MethodGet, r.path, nil)
		if r.auth != "" {
			req.Header.Set("Authorization", r.auth)
		}
		rec := httptest.NewRecorder()
		admin.Handler().ServeHTTP(rec, req)
		fmt.Println(r.path, r.auth != "", rec.Code)
	}

	_, err = telemetry.NewAdmin(telemetry.AdminOptions{Addr: "0.0.0.0:9900"})
	fmt.Println(err)
	// Output:
	// /healthz false 200
	// /metrics false 401
	// /metrics true 200
	// admin address "0.0.0.0:9900": telemetry: admin address is not loopback and no token is configured; set a token or listen on 127.0.0.1
}
