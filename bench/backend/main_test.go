package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandlerAnswersFixedBodies(t *testing.T) {
	srv := httptest.NewServer(handler())
	defer srv.Close()
	for _, tc := range []struct {
		name, path string
		status     int
		size       int64
	}{
		{"/64 is a 64-byte body with its length", "/64", 200, 64},
		{"/4096 is a 4 KiB body with its length", "/4096", 200, 4096},
		{"/healthz answers ok for active probes", "/healthz", 200, 2},
		{"anything else is not found", "/x", 404, -1},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.size >= 0 && (n != tc.size || resp.ContentLength != tc.size) {
			t.Errorf("%s: %d bytes, Content-Length %d; want %d", tc.name, n, resp.ContentLength, tc.size)
		}
	}
}
