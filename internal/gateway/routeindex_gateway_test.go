package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// manyRoutes is a configuration of n prefix routes /r/0 ... /r/<n-1> to
// service sa, with the routes of extra placed before them (first) or after
// them.
func manyRoutes(a, b string, n int, extra string, first bool) string {
	var s strings.Builder
	fmt.Fprintf(&s, `listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - {name: sa, discovery: [{static: {instances: [{addr: "%s"}]}}]}
  - {name: sb, discovery: [{static: {instances: [{addr: "%s"}]}}]}
routes:
`, a, b)
	if first {
		s.WriteString(extra)
	}
	for i := range n {
		fmt.Fprintf(&s, "  - {name: r%d, match: {path_prefix: /r/%d}, service: sa}\n", i, i)
	}
	if !first {
		s.WriteString(extra)
	}
	return s.String()
}

// TestManyRoutesAcrossAReload: with 2,000 routes, requests through a real
// gateway reach the route the file order says, and a reload that changes
// the order changes the answers (the index is rebuilt with the table).
func TestManyRoutesAcrossAReload(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	extra := `  - {name: host, match: {host: "*.example.com", path_prefix: /r}, service: sb}
  - {name: last, match: {path_prefix: /last, methods: [GET]}, service: sb}
`
	g := start(t, parse(t, manyRoutes(a, b, 2000, extra, false)), "")
	defer g.Shutdown(context.Background())
	get := func(method, host, path string) string {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+g.Addrs()[0]+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Sprint(resp.StatusCode)
		}
		return string(body)
	}
	type req struct{ method, host, path, want string }
	check := func(when string, reqs []req) {
		t.Helper()
		for _, r := range reqs {
			if got := get(r.method, r.host, r.path); got != r.want {
				t.Errorf("%s: %s %s%s = %s, want %s", when, r.method, r.host, r.path, got, r.want)
			}
		}
	}
	check("host route last", []req{
		{"GET", "x.example.com", "/r/1999/y", "a"}, // an earlier route wins
		{"GET", "x.example.com", "/r/2000", "b"},   // none of the 2,000 takes it
		{"GET", "x.example.org", "/r/2000", "404"},
		{"GET", "x.example.org", "/last/x", "b"},
		{"POST", "x.example.org", "/last/x", "404"},
		{"GET", "x.example.org", "/r/19999", "404"}, // never /r/1999 on a longer segment
	})
	if err := g.Reload(parse(t, manyRoutes(a, b, 2000, extra, true))); err != nil {
		t.Fatal(err)
	}
	check("host route first", []req{
		{"GET", "x.example.com", "/r/1999/y", "b"},
		{"GET", "x.example.org", "/r/1999/y", "a"},
		{"GET", "x.example.org", "/last", "b"},
	})
}
