package gateway

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/request"
)

// prefixRoutes returns n host-less prefix routes, /r/0 ... /r/<n-1>, in
// file order, as bench/bigconfig and the reload benchmark write them;
// with hosts, route i matches host h<i>.example.com and prefix /api.
func prefixRoutes(n int, hosts bool) []*route {
	ms := make([]config.Match, n)
	for i := range ms {
		if hosts {
			ms[i] = config.Match{Host: fmt.Sprintf("h%d.example.com", i), PathPrefix: "/api"}
		} else {
			ms[i] = config.Match{PathPrefix: fmt.Sprintf("/r/%d", i)}
		}
	}
	return testRoutes(ms...)
}

// BenchmarkRouteLookup: the route lookup of every request, through the
// index and through the scan of every route in file order (what routing
// did before the index), side by side at 1 to 100,000 routes. "last": the
// request takes the last route; "miss": no route takes it; "host": routes
// differ by host only and the request takes the last one's.
// docs/benchmarks.md (Route lookup) has the figures.
func BenchmarkRouteLookup(b *testing.B) {
	for _, n := range []int{1, 100, 10_000, 100_000} {
		paths := prefixRoutes(n, false)
		hosts := prefixRoutes(n, true)
		for _, c := range []struct {
			name   string
			routes []*route
			req    request.View
			want   *route
		}{
			{"last", paths, view("GET", "example.com", fmt.Sprintf("/r/%d/items/42", n-1)), paths[n-1]},
			{"miss", paths, view("GET", "example.com", "/nothing/here"), nil},
			{"host", hosts, view("GET", fmt.Sprintf("h%d.example.com", n-1), "/api/items/42"), hosts[n-1]},
		} {
			x := newRouteIndex(c.routes)
			for _, how := range []string{"index", "scan"} {
				b.Run(fmt.Sprintf("routes=%d/%s/%s", n, c.name, how), func(b *testing.B) {
					match := func() *route { return x.match(c.req) }
					if how == "scan" {
						match = func() *route { return scanMatch(c.routes, c.req) }
					}
					if got := match(); got != c.want {
						b.Fatalf("match = %s, want %s", nameOf(got), nameOf(c.want))
					}
					b.ReportAllocs()
					for b.Loop() {
						match()
					}
				})
			}
		}
	}
}

// indexSink keeps the indexes the build benchmark makes.
var indexSink *routeIndex

// BenchmarkRouteIndexBuild: building the index of 100,000 prefix routes,
// as a reload does once. B/op counts what the build allocates; index-MiB
// is what the index keeps (live heap with it, less without).
func BenchmarkRouteIndexBuild(b *testing.B) {
	for _, hosts := range []bool{false, true} {
		routes := prefixRoutes(100_000, hosts)
		name := "routes=100000/paths"
		if hosts {
			name = "routes=100000/hosts"
		}
		b.Run(name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			x := newRouteIndex(routes)
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(x)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				indexSink = newRouteIndex(routes)
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "index-MiB")
		})
	}
}
