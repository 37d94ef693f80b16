package gateway

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/request"
)

// scanMatch is the reference the routing index must agree with: the
// routes tried one by one in file order, the first that takes r winning.
func scanMatch(routes []*route, r request.View) *route {
	for _, rt := range routes {
		if rt.matches(r) {
			return rt
		}
	}
	return nil
}

// testRoutes compiles the match part of routes, in file order, as
// compileRoute does; route i is named "r<i>".
func testRoutes(ms ...config.Match) []*route {
	routes := make([]*route, len(ms))
	for i, m := range ms {
		routes[i] = &route{name: fmt.Sprintf("r%d", i)}
		routes[i].setMatch(m)
	}
	return routes
}

// wireRequest reads the request a client sends as "method target" with a
// Host header, and normalises its path as Gateway.ServeHTTP does: the
// request as routing sees it.
func wireRequest(t testing.TB, method, host, target string) request.View {
	t.Helper()
	raw := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("read request %q: %v", raw, err)
	}
	normalizeURL(r.URL)
	return request.NewHTTP(r)
}

// view is the request view of method, host and path as given, without
// parsing: what a fuzzer makes up need not be a valid request line.
func view(method, host, path string) request.View {
	return request.NewHTTP(&http.Request{Method: method, Host: host, URL: &url.URL{Path: path}})
}

func nameOf(rt *route) string {
	if rt == nil {
		return "none"
	}
	return rt.name
}

func TestRouteIndexPrecedence(t *testing.T) {
	type m = config.Match
	api := "api.example.com"
	for _, tc := range []struct {
		name                 string
		routes               []config.Match
		method, host, target string
		want                 string
	}{
		{"no routes take nothing", nil, "GET", api, "/", "none"},

		// Host against host suffix against no host: file order decides.
		{"a host-less route listed before an exact host route wins",
			[]m{{PathPrefix: "/api"}, {Host: api, PathPrefix: "/api"}}, "GET", api, "/api/x", "r0"},
		{"an exact host route listed before a host-less route wins",
			[]m{{Host: api, PathPrefix: "/api"}, {PathPrefix: "/api"}}, "GET", api, "/api/x", "r0"},
		{"an exact host route leaves other hosts to the host-less route",
			[]m{{Host: api, PathPrefix: "/api"}, {PathPrefix: "/api"}}, "GET", "www.example.com", "/api/x", "r1"},
		{"a host suffix listed before an exact host wins",
			[]m{{Host: "*.example.com"}, {Host: api}}, "GET", api, "/", "r0"},
		{"an exact host listed before a host suffix wins",
			[]m{{Host: api}, {Host: "*.example.com"}}, "GET", api, "/", "r0"},
		{"the shorter of two nested suffixes wins when listed first",
			[]m{{Host: "*.example.com"}, {Host: "*.b.example.com"}}, "GET", "a.b.example.com", "/", "r0"},
		{"the longer of two nested suffixes wins when listed first",
			[]m{{Host: "*.b.example.com"}, {Host: "*.example.com"}}, "GET", "a.b.example.com", "/", "r0"},
		{"a host suffix takes a deeper subdomain",
			[]m{{Host: "*.example.com"}}, "GET", "a.b.example.com", "/", "r0"},
		{"a host suffix does not take its bare domain",
			[]m{{Host: "*.example.com"}}, "GET", "example.com", "/", "none"},
		{"a host suffix takes only after a dot",
			[]m{{Host: "*.example.com"}}, "GET", "badexample.com", "/", "none"},
		{"a host is compared without port, in any case",
			[]m{{Host: "API.Example.com"}}, "GET", "Api.EXAMPLE.com:8080", "/", "r0"},
		{"a host suffix is compared in any case",
			[]m{{Host: "*.Example.COM"}}, "GET", "A.example.com:443", "/", "r0"},
		{"an IPv6 literal host is compared without brackets and port",
			[]m{{Host: "::1", PathPrefix: "/v6"}}, "GET", "[::1]:8080", "/v6", "r0"},
		{"an exact host takes no other host",
			[]m{{Host: api}}, "GET", "api.example.org", "/", "none"},
		{"the lowest route wins across the three host groups",
			[]m{{Host: "*.example.com", PathPrefix: "/x"}, {Host: api, PathPrefix: "/"}, {PathPrefix: "/"}}, "GET", api, "/y", "r1"},
		{"the lowest route wins across the three host groups, first group",
			[]m{{Host: "*.example.com", PathPrefix: "/x"}, {Host: api, PathPrefix: "/"}, {PathPrefix: "/"}}, "GET", api, "/x/1", "r0"},

		// Overlapping prefixes, in both orders.
		{"a shorter prefix listed first wins over a longer one",
			[]m{{PathPrefix: "/api"}, {PathPrefix: "/api/v1"}}, "GET", api, "/api/v1/x", "r0"},
		{"a longer prefix listed first wins over a shorter one",
			[]m{{PathPrefix: "/api/v1"}, {PathPrefix: "/api"}}, "GET", api, "/api/v1/x", "r0"},
		{"a longer prefix listed first leaves its siblings to the shorter",
			[]m{{PathPrefix: "/api/v1"}, {PathPrefix: "/api"}}, "GET", api, "/api/v2", "r1"},
		{"a catch-all listed first takes everything",
			[]m{{PathPrefix: "/"}, {Host: api, PathPrefix: "/a"}}, "GET", api, "/a", "r0"},
		{"a catch-all listed last takes what nothing else does",
			[]m{{Host: api, PathPrefix: "/a"}, {PathPrefix: "/"}}, "GET", api, "/b", "r1"},

		// The segment rule.
		{"a prefix takes itself", []m{{PathPrefix: "/public"}}, "GET", api, "/public", "r0"},
		{"a prefix takes its subpaths", []m{{PathPrefix: "/public"}}, "GET", api, "/public/x/y", "r0"},
		{"a prefix never takes a longer segment", []m{{PathPrefix: "/public"}}, "GET", api, "/publicity", "none"},
		{"a prefix never takes a shorter segment", []m{{PathPrefix: "/public"}}, "GET", api, "/pub", "none"},
		{"a prefix is not found in the middle of a path", []m{{PathPrefix: "/public"}}, "GET", api, "/x/public", "none"},
		{"a trailing slash on the prefix changes nothing", []m{{PathPrefix: "/public/"}}, "GET", api, "/public", "r0"},
		{"a trailing slash on the path is a subpath", []m{{PathPrefix: "/public"}}, "GET", api, "/public/", "r0"},
		{"/ takes every path", []m{{PathPrefix: "/"}}, "GET", api, "/any/thing", "r0"},
		{"an empty prefix is /", []m{{}}, "GET", api, "/any", "r0"},
		{"/ does not take *", []m{{PathPrefix: "/"}}, "OPTIONS", api, "*", "none"},
		{"a longer prefix does not take *", []m{{PathPrefix: "/a"}}, "OPTIONS", api, "*", "none"},

		// Methods are checked on the candidates.
		{"a route whose methods do not take the request is passed over",
			[]m{{PathPrefix: "/api", Methods: []string{"POST"}}, {PathPrefix: "/api"}}, "GET", api, "/api", "r1"},
		{"a route whose methods take the request wins",
			[]m{{PathPrefix: "/api", Methods: []string{"POST"}}, {PathPrefix: "/api"}}, "POST", api, "/api", "r0"},
		{"a longer prefix with other methods is passed over",
			[]m{{PathPrefix: "/api/v1", Methods: []string{"POST", "PUT"}}, {PathPrefix: "/api"}}, "GET", api, "/api/v1", "r1"},
		{"the second of two routes on one prefix, by method",
			[]m{{PathPrefix: "/api", Methods: []string{"POST"}}, {PathPrefix: "/api", Methods: []string{"GET", "HEAD"}}}, "HEAD", api, "/api/x", "r1"},
		{"a catch-all with methods is passed over",
			[]m{{PathPrefix: "/", Methods: []string{"POST"}}, {PathPrefix: "/api"}}, "GET", api, "/api", "r1"},
		{"no route takes a method none lists",
			[]m{{PathPrefix: "/api", Methods: []string{"POST"}}}, "GET", api, "/api", "none"},
		{"methods are compared case-sensitively",
			[]m{{Methods: []string{"GET"}}}, "get", api, "/", "none"},
		{"a host route with methods is passed over for a host-less one",
			[]m{{Host: api, Methods: []string{"POST"}}, {Host: "*.example.com", Methods: []string{"GET"}}, {}}, "PUT", api, "/", "r2"},

		// Paths as routing sees them: normalised before matching.
		{"dot segments are removed before matching",
			[]m{{PathPrefix: "/admin"}}, "GET", api, "/public/../admin/x", "r0"},
		{"slashes are merged before matching",
			[]m{{PathPrefix: "/api/v1"}}, "GET", api, "//api///v1/x", "r0"},
		{"an escaped slash is matched decoded",
			[]m{{PathPrefix: "/a/b"}}, "GET", api, "/a%2Fb", "r0"},
		{"an escaped slash does not keep a path inside a prefix",
			[]m{{PathPrefix: "/a%2Fb"}, {PathPrefix: "/a"}}, "GET", api, "/a%2Fb", "r1"},
		{"an escaped letter is the letter", []m{{PathPrefix: "/api"}}, "GET", api, "/%61pi/x", "r0"},
		{"an escaped dot segment is removed",
			[]m{{PathPrefix: "/admin"}}, "GET", api, "/public/%2E%2E/admin", "r0"},
		{"a query is not part of the path", []m{{PathPrefix: "/api"}}, "GET", api, "/api?x=/y", "r0"},
		{"a query does not extend a segment", []m{{PathPrefix: "/api"}}, "GET", api, "/apiary?x", "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			routes := testRoutes(tc.routes...)
			r := wireRequest(t, tc.method, tc.host, tc.target)
			if got := nameOf(newRouteIndex(routes).match(r)); got != tc.want {
				t.Errorf("index match(%s %s %s) = %s, want %s", tc.method, tc.host, tc.target, got, tc.want)
			}
			if got := nameOf(scanMatch(routes, r)); got != tc.want {
				t.Errorf("scan match(%s %s %s) = %s, want %s", tc.method, tc.host, tc.target, got, tc.want)
			}
		})
	}
}

func TestRouteIndexOfNoTableTakesNothing(t *testing.T) {
	var x *routeIndex
	if got := x.match(view("GET", "a", "/")); got != nil {
		t.Errorf("nil index match = %s, want none", got.name)
	}
	if got := (&table{}).match(view("GET", "a", "/")); got != nil {
		t.Errorf("empty table match = %s, want none", got.name)
	}
}

// The vocabularies random route sets and requests are drawn from: small,
// so that routes overlap and requests hit them, with the corner cases in.
var (
	genHosts = []string{"", "a.example.com", "b.example.com", "example.com", "a.b.example.com",
		"*.example.com", "*.b.example.com", "*.com", "x", "*.", ".", "A.Example.com"}
	genSegs    = []string{"", "a", "b", "ab", "api", "v1", "x.y", "*"}
	genMethods = [][]string{nil, {"GET"}, {"POST"}, {"GET", "HEAD"}}
	genReqMeth = []string{"GET", "POST", "HEAD", "PUT"}
)

// genPath makes a path (or prefix) from the bits of v: up to four
// segments, a leading slash or not, a trailing slash or not, or "*".
func genPath(v uint32) string {
	switch v % 16 {
	case 0:
		return "*"
	case 1:
		return ""
	case 2:
		return "/"
	}
	v /= 16
	var b strings.Builder
	n := int(v % 5)
	v /= 5
	lead := v%4 != 0
	v /= 4
	for i := range n {
		if i > 0 || lead {
			b.WriteByte('/')
		}
		b.WriteString(genSegs[v%uint32(len(genSegs))])
		v /= uint32(len(genSegs))
	}
	if v%3 == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// genRoute makes a route's match from v.
func genRoute(v uint32) config.Match {
	return config.Match{
		Host:       genHosts[v%uint32(len(genHosts))],
		Methods:    genMethods[(v>>4)%uint32(len(genMethods))],
		PathPrefix: genPath(v >> 6),
	}
}

// genRequest makes a request from v; its host drops a leading "*." now and
// then, so that suffix routes are hit.
func genRequest(v uint32) request.View {
	h := genHosts[v%uint32(len(genHosts))]
	if v&16 != 0 {
		h = strings.TrimPrefix(h, "*")
		h = "q" + h
	}
	return view(genReqMeth[(v>>5)%uint32(len(genReqMeth))], h, genPath(v>>7))
}

// checkIndex fails t when the index of routes and the scan disagree on r.
func checkIndex(t *testing.T, routes []*route, x *routeIndex, r request.View) {
	t.Helper()
	got, want := x.match(r), scanMatch(routes, r)
	if got != want {
		var b strings.Builder
		for _, rt := range routes {
			fmt.Fprintf(&b, "\n  %s: host %q suffix %q prefix %q methods %q", rt.name, rt.host, rt.hostSuffix, rt.pathPrefix, rt.methods)
		}
		t.Fatalf("index match(%s %q %q) = %s, scan = %s; routes:%s", r.Method(), r.Host(), r.Path(), nameOf(got), nameOf(want), b.String())
	}
}

// TestRouteIndexAgreesWithTheScan: random route sets of 1 to 64 routes,
// random requests; the index and the scan must pick the same route.
func TestRouteIndexAgreesWithTheScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		ms := make([]config.Match, 1+rng.IntN(64))
		for i := range ms {
			ms[i] = genRoute(rng.Uint32())
		}
		routes := testRoutes(ms...)
		x := newRouteIndex(routes)
		for range 100 {
			checkIndex(t, routes, x, genRequest(rng.Uint32()))
		}
	}
}

// FuzzRouteIndex: a route set drawn from the fuzzer's bytes (four per
// route), plus a route of the fuzzer's own host and prefix; requests drawn
// from its bytes, plus one of its own method, host and path. The index
// must pick what the scan picks, for any prefix, even one a configuration
// would refuse.
func FuzzRouteIndex(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{9, 10, 11, 12}, "GET", "a.example.com", "/api", "/api/v1", "*.example.com")
	f.Add([]byte{0, 0, 0, 0}, []byte{0, 0, 0, 0}, "OPTIONS", "x", "*", "/", "")
	f.Add([]byte{}, []byte{}, "GET", "q.b.example.com", "/public/x", "/public/", "*.b.example.com")
	f.Add([]byte{255, 255, 255, 255}, []byte{}, "POST", "example.com", "/publicity", "/public", "example.com")
	f.Add([]byte{}, []byte{}, "GET", "", "", "", "")
	f.Add([]byte{}, []byte{}, "GET", ".", "//", "//", "*.")
	f.Fuzz(func(t *testing.T, routeBytes, reqBytes []byte, method, host, path, prefix, routeHost string) {
		var ms []config.Match
		for i := 0; i+4 <= len(routeBytes) && len(ms) < 256; i += 4 {
			ms = append(ms, genRoute(uint32(routeBytes[i])|uint32(routeBytes[i+1])<<8|uint32(routeBytes[i+2])<<16|uint32(routeBytes[i+3])<<24))
		}
		// The fuzzer's own route goes in the middle, so that routes
		// before and after it compete with it.
		own := config.Match{Host: routeHost, PathPrefix: prefix}
		ms = append(ms[:len(ms)/2], append([]config.Match{own}, ms[len(ms)/2:]...)...)
		routes := testRoutes(ms...)
		x := newRouteIndex(routes)
		checkIndex(t, routes, x, view(method, host, path))
		for i := 0; i+4 <= len(reqBytes) && i < 256; i += 4 {
			checkIndex(t, routes, x, genRequest(uint32(reqBytes[i])|uint32(reqBytes[i+1])<<8|uint32(reqBytes[i+2])<<16|uint32(reqBytes[i+3])<<24))
		}
	})
}
