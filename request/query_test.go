package request

import (
	"net/url"
	"strings"
	"testing"
)

func TestQueryValueOnAQueryPastParseQuerysLimit(t *testing.T) {
	for _, n := range []int{999, 1000, 20000} {
		raw := strings.Repeat("a=1&", n) + "lane=x"
		v, _ := url.ParseQuery(raw)
		if got, want := queryValue(raw, "lane"), v.Get("lane"); got != want {
			t.Errorf("%d parameters: queryValue = %q, url.ParseQuery gives %q", n+1, got, want)
		}
	}
}

// FuzzQueryValue checks queryValue against url.ParseQuery, which it
// replaces for single-name lookups.
func FuzzQueryValue(f *testing.F) {
	for _, s := range []string{"", "lane=gray", "a=1&lane=gray&lane=x", "lane", "lane=", "la%6Ee=gr%61y", "lane=a+b", "lane=%zz&lane=ok", "x;y=1&lane=2", "&&lane=3&", "%=1", "lane=%"} {
		f.Add(s, "lane")
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		want := url.Values{}
		if v, err := url.ParseQuery(raw); err == nil || len(v) > 0 {
			want = v
		}
		if got := queryValue(raw, name); got != want.Get(name) {
			t.Fatalf("queryValue(%q, %q) = %q, url.ParseQuery gives %q", raw, name, got, want.Get(name))
		}
	})
}
