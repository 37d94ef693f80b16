package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProxyForwardsWithForwardedFor(t *testing.T) {
	var xff string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		xff = r.Header.Get("X-Forwarded-For")
		io.WriteString(w, r.URL.Path)
	}))
	defer up.Close()
	rp, err := newProxy(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Transport.(*http.Transport).CloseIdleConnections()
	gw := httptest.NewServer(rp)
	defer gw.Close()
	resp, err := http.Get(gw.URL + "/64")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "/64" || xff != "127.0.0.1" {
		t.Errorf("through the proxy: %d %q, X-Forwarded-For %q; want 200 \"/64\", 127.0.0.1", resp.StatusCode, body, xff)
	}
}

func TestProxyRefusesABadUpstream(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:80", "ftp://x", "http://"} {
		if _, err := newProxy(u); err == nil {
			t.Errorf("newProxy(%q) = nil error, want one", u)
		}
	}
}
