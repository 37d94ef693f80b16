package resilience_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/resilience"
)

func TestStaleCacheTTL(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	sc := resilience.NewStaleCache(resilience.StaleConfig{TTL: time.Minute, Now: c.now})
	sc.Put("GET a/x", 200, http.Header{"X": {"1"}}, []byte("hello"))
	r, ok := sc.Get("GET a/x")
	if !ok || r.Status != 200 || string(r.Body) != "hello" || r.Header.Get("X") != "1" {
		t.Fatalf("Get = %+v, %v; want the stored response", r, ok)
	}
	c.add(61 * time.Second)
	if _, ok := sc.Get("GET a/x"); ok {
		t.Error("Get after TTL = ok, want expired")
	}
	if n, b := sc.Len(); n != 0 || b != 0 {
		t.Errorf("Len after expiry = %d entries %d bytes, want 0 0", n, b)
	}
}

func TestStaleCacheBounds(t *testing.T) {
	sc := resilience.NewStaleCache(resilience.StaleConfig{MaxBytes: 100, MaxEntryBytes: 40})
	sc.Put("big", 200, nil, []byte(strings.Repeat("x", 41)))
	if _, ok := sc.Get("big"); ok {
		t.Error("an entry over MaxEntryBytes was stored")
	}
	for i := 0; i < 10; i++ {
		sc.Put(fmt.Sprint(i), 200, nil, []byte(strings.Repeat("y", 30)))
	}
	n, b := sc.Len()
	if b > 100 || n != 3 {
		t.Errorf("Len = %d entries %d bytes, want 3 entries ≤ 100 bytes", n, b)
	}
	if _, ok := sc.Get("9"); !ok {
		t.Error("the newest entry was evicted")
	}
	if _, ok := sc.Get("0"); ok {
		t.Error("the oldest entry survived eviction")
	}
	sc.Put("9", 200, nil, []byte("z"))
	if r, _ := sc.Get("9"); string(r.Body) != "z" {
		t.Errorf("replacing an entry: body %q, want z", r.Body)
	}
}

func TestCacheable(t *testing.T) {
	h := func(kv ...string) http.Header {
		x := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			x.Set(kv[i], kv[i+1])
		}
		return x
	}
	for _, c := range []struct {
		name   string
		method string
		req    http.Header
		status int
		resp   http.Header
		want   bool
	}{
		{"plain GET 200", "GET", h(), 200, h(), true},
		{"GET 404", "GET", h(), 404, h(), true},
		{"POST never", "POST", h(), 200, h(), false},
		{"500 never", "GET", h(), 500, h(), false},
		{"response no-store", "GET", h(), 200, h("Cache-Control", "no-store"), false},
		{"response private", "GET", h(), 200, h("Cache-Control", "private, max-age=60"), false},
		{"request no-store", "GET", h("Cache-Control", "no-store"), 200, h(), false},
		{"authorized request", "GET", h("Authorization", "Bearer x"), 200, h(), false},
		{"sets a cookie", "GET", h(), 200, h("Set-Cookie", "s=1"), false},
	} {
		if got := resilience.Cacheable(c.method, c.req, c.status, c.resp); got != c.want {
			t.Errorf("%s: Cacheable = %v, want %v", c.name, got, c.want)
		}
	}
}
