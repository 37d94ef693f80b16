package gateway

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestCleanPathRemovesDotSegmentsAndMergesSlashes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"/a/b/", "/a/b/"},
		{"/public/../admin/s.txt", "/admin/s.txt"},
		{"/public/./s.txt", "/public/s.txt"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
		{"/..", "/"},
		{"//a///b", "/a/b"},
		{"/public//../admin", "/admin"}, // slashes merge first, as path.Clean does
		{"/a/...", "/a/..."},
		{"/a/..b", "/a/..b"},
	} {
		if got := cleanPath(tc.in, false); got != tc.want {
			t.Errorf("cleanPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCleanPathRawReadsEscapedDots(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/public/%2e%2e/admin", "/admin"},
		{"/public/%2E./admin", "/admin"},
		{"/public/.%2e/admin", "/admin"},
		{"/a/%2e/b", "/a/b"},
		{"/a/%2e%2e%2e/b", "/a/%2e%2e%2e/b"},
		{"/a/%2F/b", "/a/%2F/b"},
		{"/a%3Bb/../c", "/c"},
	} {
		if got := cleanPath(tc.in, true); got != tc.want {
			t.Errorf("cleanPath(%q, raw) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNormalizeURL pins what routing matches on and what is forwarded for
// each escaped-path mode; "" in a mode's column means the request is
// refused with 400.
func TestNormalizeURL(t *testing.T) {
	for _, tc := range []struct {
		target                string
		match                 string // the path routes are matched on
		plain, unescape, keep string // forwarded: no escapes; the two opt-ins
		rejectedByDefault     bool
	}{
		{target: "/public/s.txt", match: "/public/s.txt", plain: "/public/s.txt"},
		{target: "/public/../admin/s.txt", match: "/admin/s.txt", plain: "/admin/s.txt"},
		{target: "//public//s.txt", match: "/public/s.txt", plain: "/public/s.txt"},
		{target: "/a%3Bb/./c", match: "/a;b/c", plain: "/a%3Bb/c"},
		{target: "/a%20b", match: "/a b", plain: "/a%20b"},
		{target: "/public/%2e%2e/admin/s.txt", match: "/admin/s.txt", rejectedByDefault: true, unescape: "/admin/s.txt", keep: "/admin/s.txt"},
		{target: "/public/%2E%2E/admin/s.txt", match: "/admin/s.txt", rejectedByDefault: true, unescape: "/admin/s.txt", keep: "/admin/s.txt"},
		{target: "/public/a%2Fb", match: "/public/a/b", rejectedByDefault: true, unescape: "/public/a/b", keep: "/public/a%2Fb"},
		{target: "/public/..%2Fadmin/s.txt", match: "/admin/s.txt", rejectedByDefault: true, unescape: "/admin/s.txt"},
		{target: "/public/..%5Cadmin/s.txt", match: "/admin/s.txt", rejectedByDefault: true, unescape: "/admin/s.txt"},
		{target: "/public/a%5Cb", match: "/public/a/b", rejectedByDefault: true, unescape: "/public/a/b", keep: "/public/a%5Cb"},
		{target: `/public/..\admin`, match: "/admin", rejectedByDefault: true, unescape: "/admin"},
		{target: "/public/%252e%252e/x", match: "/public/%2e%2e/x", plain: "/public/%252e%252e/x"},
	} {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		escaped := normalizeURL(u)
		if u.Path != tc.match {
			t.Errorf("normalizeURL(%q): matched on %q, want %q", tc.target, u.Path, tc.match)
		}
		if escaped != tc.rejectedByDefault {
			t.Errorf("normalizeURL(%q): escaped %v, want %v", tc.target, escaped, tc.rejectedByDefault)
		}
		if !escaped {
			if got := u.EscapedPath(); got != tc.plain {
				t.Errorf("normalizeURL(%q): forwards %q, want %q", tc.target, got, tc.plain)
			}
			continue
		}
		for _, m := range []struct {
			mode escapedPath
			want string
		}{{escapedReject, ""}, {escapedUnescape, tc.unescape}, {escapedKeep, tc.keep}} {
			v := *u
			ok := forwardPath(&v, m.mode)
			got := ""
			if ok {
				got = v.EscapedPath()
			}
			if got != m.want {
				t.Errorf("forwardPath(%q, mode %d) forwards %q, want %q (\"\": refused)", tc.target, m.mode, got, m.want)
			}
		}
	}
}

func TestNormalizeURLOfACleanPathDoesNotAllocate(t *testing.T) {
	u, _ := url.ParseRequestURI("/api/v1/orders/42?x=1")
	if n := testing.AllocsPerRun(100, func() { normalizeURL(u) }); n != 0 {
		t.Errorf("normalizeURL of a clean path: %v allocations, want 0", n)
	}
}

// FuzzNormalizeURL checks the promise routing relies on: whatever is
// forwarded, a backend that decodes it and resolves its dot segments
// (http.FileServer, path.Clean) lands on the path the route was matched
// on.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"/", "/public/../admin/s.txt", "/public/%2e%2e/admin", "/a%2Fb", "/a/..%2F..%2Fb", `/a\b`, "//x//", "/a%3Bb/./c", "/%2e", "/a/%2E%2e/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Path == "" || u.Path[0] != '/' {
			return
		}
		escaped := normalizeURL(u)
		matched := u.Path
		if cleanPath(matched, false) != matched {
			t.Fatalf("%q: matched on %q, which is not clean", target, matched)
		}
		modes := []escapedPath{escapedReject}
		if escaped {
			modes = []escapedPath{escapedUnescape, escapedKeep}
		}
		for _, m := range modes {
			v := *u
			if escaped && !forwardPath(&v, m) {
				continue
			}
			d, err := url.PathUnescape(v.EscapedPath())
			if err != nil {
				t.Fatalf("%q (mode %d): forwards %q, which does not decode: %v", target, m, v.EscapedPath(), err)
			}
			d = strings.ReplaceAll(d, `\`, "/")
			if got := path.Clean(d); got != path.Clean(matched) {
				t.Fatalf("%q (mode %d): forwards %q, which a backend resolves to %q; the route matched %q", target, m, v.EscapedPath(), got, matched)
			}
		}
	})
}

func TestSegmentPrefix(t *testing.T) {
	for _, tc := range []struct {
		path, prefix string
		want         bool
	}{
		{"/public", "/public", true},
		{"/public/", "/public", true},
		{"/public/x", "/public", true},
		{"/publicity", "/public", false},
		{"/publi", "/public", false},
		{"/", "/", true},
		{"/anything", "/", true},
		{"*", "/", false},
		{"/a/b/c", "/a/b", true},
		{"/a/bc", "/a/b", false},
	} {
		if got := segmentPrefix(tc.path, tc.prefix); got != tc.want {
			t.Errorf("segmentPrefix(%q, %q) = %v, want %v", tc.path, tc.prefix, got, tc.want)
		}
	}
}
