package request_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/duohuo/duohuo/request"
)

func TestFromHTTP(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://API.Example.com:8080/v1/x?lane=gray&a=1", nil)
	r.Header.Set("X-User-Id", "u42")
	r.AddCookie(&http.Cookie{Name: "lane", Value: "v2"})
	r.RemoteAddr = "[::ffff:10.1.2.3]:5555"
	v := request.FromHTTP(r)
	for _, c := range []struct{ name, got, want string }{
		{"Method", v.Method(), "POST"},
		{"Host", v.Host(), "api.example.com"},
		{"Path", v.Path(), "/v1/x"},
		{"Header", v.Header("x-user-id"), "u42"},
		{"Header missing", v.Header("x-none"), ""},
		{"Cookie", v.Cookie("lane"), "v2"},
		{"Cookie missing", v.Cookie("none"), ""},
		{"Query", v.Query("lane"), "gray"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got, want := v.RemoteAddr(), netip.MustParseAddr("10.1.2.3"); got != want {
		t.Errorf("RemoteAddr = %v, want %v", got, want)
	}
}

func TestHostForms(t *testing.T) {
	for _, c := range []struct{ host, want string }{
		{"example.com", "example.com"},
		{"example.com:80", "example.com"},
		{"127.0.0.1:8080", "127.0.0.1"},
		{"[::1]:8080", "::1"},
		{"[::1]", "::1"},
		{"EXAMPLE.com", "example.com"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		if got := request.FromHTTP(r).Host(); got != c.want {
			t.Errorf("Host(%q) = %q, want %q", c.host, got, c.want)
		}
	}
}

func TestHostDoesNotAllocate(t *testing.T) {
	for _, h := range []string{"api.example.com", "api.example.com:8080", "127.0.0.1:80"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = h
		v := request.FromHTTP(r)
		if n := testing.AllocsPerRun(100, func() { _ = v.Host() }); n != 0 {
			t.Errorf("Host() of %q allocates %v times, want 0", h, n)
		}
	}
}

func BenchmarkHost(b *testing.B) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "api.example.com:8080"
	v := request.FromHTTP(r)
	b.ReportAllocs()
	for b.Loop() {
		_ = v.Host()
	}
}

// BenchmarkQuery compares View.Query with the URL.Query().Get it replaced,
// side by side.
func BenchmarkQuery(b *testing.B) {
	r := httptest.NewRequest("GET", "/checkout?user=42&lane=gray&utm_source=mail&utm_campaign=winter", nil)
	b.Run("view", func(b *testing.B) {
		v := request.FromHTTP(r)
		b.ReportAllocs()
		for b.Loop() {
			if v.Query("lane") != "gray" {
				b.Fatal("lane")
			}
		}
	})
	b.Run("url.Query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r.URL.Query().Get("lane") != "gray" {
				b.Fatal("lane")
			}
		}
	})
}
