package gateway

import (
	"strings"

	"github.com/duohuo/duohuo/request"
)

// routeIndex finds the route a request takes without visiting every route:
// the lowest route in file order whose host, path prefix and methods all
// match, exactly what trying the routes one by one in file order returns
// (routeindex_test.go keeps that scan as the reference). It is built with
// the routing table, off the request path, and never changes afterwards:
// safe for concurrent use. A lookup allocates nothing.
//
// Routes are grouped by how they match the host, as Envoy picks a virtual
// host before a route: an exact host (a hash lookup), a host suffix (a hash
// lookup for each dot of the request's host that is close enough to its end
// to start the longest suffix configured) and no host. In each group a
// trie over the path's segments, in the manner of nginx's prefix tree and
// APISIX's radix tree, holds the path prefixes: a walk down the request's
// path visits every prefix that takes it on a segment boundary, and no
// other. A route's methods are checked on those candidates only.
//
// The route numbers are int32: a table of more than 2^31 routes is not a
// configuration anyone can load.
type routeIndex struct {
	routes    []*route
	any       *pathIndex            // routes that match every host; nil: none
	exact     map[string]*pathIndex // by host, lower case
	suffix    map[string]*pathIndex // by host suffix, ".example.com"
	suffixMax int                   // length of the longest key of suffix
}

// pathIndex holds the path prefixes of one host group.
type pathIndex struct {
	// slash lists the routes whose prefix is "/", in file order. "/"
	// takes every path that starts with "/" (and not "*"), which the
	// segment rule alone would not say: "/" split on slashes is two
	// empty segments, which would take only "/" and "//...".
	slash []int32
	root  pathNode
	min   int32 // lowest route number in slash and the trie
}

// pathNode is the node of a path trie reached by the segments of a
// prefix, split on "/": "/api/v1" is "", "api", "v1". Splitting on "/"
// maps strings to segment lists one to one, so a prefix P takes path p
// (p == P, or p starts with P+"/") exactly when P's segments are the first
// segments of p's.
type pathNode struct {
	routes   []int32 // routes whose prefix ends here, in file order
	children map[string]*pathNode
	min      int32 // lowest route number here and below: a walk stops early
}

// noRoute is the route number of no route: above every real one.
const noRoute = int32(1<<31 - 1)

// newRouteIndex builds the index of routes, which are in file order.
func newRouteIndex(routes []*route) *routeIndex {
	x := &routeIndex{routes: routes}
	for i, rt := range routes {
		n := int32(i)
		var pi *pathIndex
		switch {
		case rt.host != "":
			if x.exact == nil {
				x.exact = map[string]*pathIndex{}
			}
			pi = x.exact[rt.host]
			if pi == nil {
				pi = newPathIndex()
				x.exact[rt.host] = pi
			}
		case rt.hostSuffix != "":
			if x.suffix == nil {
				x.suffix = map[string]*pathIndex{}
			}
			pi = x.suffix[rt.hostSuffix]
			if pi == nil {
				pi = newPathIndex()
				x.suffix[rt.hostSuffix] = pi
				x.suffixMax = max(x.suffixMax, len(rt.hostSuffix))
			}
		default:
			if x.any == nil {
				x.any = newPathIndex()
			}
			pi = x.any
		}
		pi.add(rt.pathPrefix, n)
	}
	return x
}

func newPathIndex() *pathIndex {
	return &pathIndex{min: noRoute, root: pathNode{min: noRoute}}
}

// add files route n under prefix. Routes are added in file order, so
// every list stays sorted and a node's min is its first route's or below.
func (pi *pathIndex) add(prefix string, n int32) {
	pi.min = min(pi.min, n)
	if prefix == "/" {
		pi.slash = append(pi.slash, n)
		return
	}
	node := &pi.root
	node.min = min(node.min, n)
	for {
		seg, rest, more := strings.Cut(prefix, "/")
		child := node.children[seg]
		if child == nil {
			if node.children == nil {
				node.children = map[string]*pathNode{}
			}
			child = &pathNode{min: n}
			node.children[seg] = child
		}
		node = child
		node.min = min(node.min, n)
		if !more {
			break
		}
		prefix = rest
	}
	node.routes = append(node.routes, n)
}

// match returns the route r takes, nil when none does. A nil index takes
// nothing.
func (x *routeIndex) match(r request.View) *route {
	if x == nil {
		return nil
	}
	p, m := r.Path(), r.Method()
	best := noRoute
	if x.exact != nil || x.suffix != nil {
		h := r.Host()
		if pi := x.exact[h]; pi != nil {
			best = pi.lookup(x.routes, p, m, best)
		}
		if x.suffix != nil {
			// A suffix starts with its dot (".example.com" from
			// "*.example.com"), so only the dots of h can start one,
			// and none further from the end than the longest suffix.
			for i := max(0, len(h)-x.suffixMax); i < len(h); i++ {
				if h[i] != '.' {
					continue
				}
				if pi := x.suffix[h[i:]]; pi != nil {
					best = pi.lookup(x.routes, p, m, best)
				}
			}
		}
	}
	if x.any != nil {
		best = x.any.lookup(x.routes, p, m, best)
	}
	if best == noRoute {
		return nil
	}
	return x.routes[best]
}

// lookup returns the lowest route number below best whose prefix takes
// path p and whose methods take m; best when there is none.
func (pi *pathIndex) lookup(routes []*route, p, m string, best int32) int32 {
	if pi.min >= best {
		return best
	}
	if len(pi.slash) > 0 && strings.HasPrefix(p, "/") {
		best = firstMethod(routes, pi.slash, m, best)
	}
	node := &pi.root
	// Each step consumes one segment of p: the walk is linear in the
	// path's length, however many slashes it has.
	for node.min < best && node.children != nil {
		seg, rest, more := strings.Cut(p, "/")
		node = node.children[seg]
		if node == nil {
			break
		}
		if len(node.routes) > 0 {
			best = firstMethod(routes, node.routes, m, best)
		}
		if !more {
			break
		}
		p = rest
	}
	return best
}

// firstMethod returns the first route number of list (sorted) below best
// whose methods take m; best when there is none.
func firstMethod(routes []*route, list []int32, m string, best int32) int32 {
	for _, n := range list {
		if n >= best {
			break
		}
		if routes[n].takesMethod(m) {
			return n
		}
	}
	return best
}
