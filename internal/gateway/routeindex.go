package gateway

import (
	"slices"
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
// lookup for each length of suffix configured, where the request's host has
// a dot that far from its end) and no host. In each group a trie over the
// path's segments, in the manner of nginx's prefix tree and APISIX's radix
// tree, holds the path prefixes: a walk down the request's path visits
// every prefix that takes it on a segment boundary, and no other. A
// route's methods are checked on those candidates only.
//
// The route numbers are int32: a table of more than 2^31 routes is not a
// configuration anyone can load.
type routeIndex struct {
	routes    []*route
	any       group            // routes that match every host
	exact     map[string]group // by host, lower case
	suffix    map[string]group // by host suffix, ".example.com"
	suffixLen []int            // the lengths of the keys of suffix, each once

	// The path tries of every group share one arena of nodes and one
	// map of edges, so that a table of 100,000 hosts is not 100,000
	// tries of little maps. Node 0 is "no node".
	nodes []pathNode
	edges map[edge]int32 // (node, segment) → child node
	more  [][]int32      // the routes of a node past its first, by pathNode.more
}

// group holds the path prefixes of one host group: the trie root, and the
// routes whose prefix is "/". "/" takes every path that starts with "/"
// (and not "*"), which the segment rule alone would not say: "/" split on
// slashes is two empty segments, which would take only "/" and "//...".
type group struct {
	root  int32 // node of the trie; 0: no trie
	slash int32 // node holding the "/" routes; 0: none
	min   int32 // lowest route number of the group; noRoute: empty
}

// pathNode is the node of a path trie reached by the segments of a
// prefix, split on "/": "/api/v1" is "", "api", "v1". Splitting on "/"
// maps strings to segment lists one to one, so a prefix P takes path p
// (p == P, or p starts with P+"/") exactly when P's segments are the first
// segments of p's.
type pathNode struct {
	first int32 // lowest route whose prefix ends here; noRoute: none
	more  int32 // index in routeIndex.more of the others, in file order, plus 1; 0: none
	min   int32 // lowest route number here and below: a walk stops early
	kids  kids
	// The only child, when kids is oneKid: most nodes have one (the
	// empty segment before a path's first slash under every root, a
	// shared "/api"), and a string comparison is cheaper than hashing.
	seg string
	kid int32
}

// kids says where a node's children are.
type kids uint8

const (
	noKids   kids = iota
	oneKid        // pathNode.seg, pathNode.kid
	manyKids      // routeIndex.edges
)

// edge names a child: the segment under a node.
type edge struct {
	node int32
	seg  string
}

// noRoute is the route number of no route: above every real one.
const noRoute = int32(1<<31 - 1)

// newRouteIndex builds the index of routes, which are in file order.
func newRouteIndex(routes []*route) *routeIndex {
	x := &routeIndex{
		routes: routes,
		any:    group{min: noRoute},
		nodes:  make([]pathNode, 1, 1+len(routes)),
		edges:  map[edge]int32{},
	}
	hosts := 0
	for _, rt := range routes {
		if rt.host != "" {
			hosts++
		}
	}
	if hosts > 0 {
		x.exact = make(map[string]group, hosts)
	}
	for i, rt := range routes {
		n := int32(i)
		switch {
		case rt.host != "":
			g, ok := x.exact[rt.host]
			if !ok {
				g = group{min: noRoute}
			}
			x.exact[rt.host] = x.add(g, rt.pathPrefix, n)
		case rt.hostSuffix != "":
			if x.suffix == nil {
				x.suffix = map[string]group{}
			}
			g, ok := x.suffix[rt.hostSuffix]
			if !ok {
				g = group{min: noRoute}
				if !slices.Contains(x.suffixLen, len(rt.hostSuffix)) {
					x.suffixLen = append(x.suffixLen, len(rt.hostSuffix))
				}
			}
			x.suffix[rt.hostSuffix] = x.add(g, rt.pathPrefix, n)
		default:
			x.any = x.add(x.any, rt.pathPrefix, n)
		}
	}
	return x
}

// node adds a node and returns its number.
func (x *routeIndex) node(n int32) int32 {
	x.nodes = append(x.nodes, pathNode{first: noRoute, min: n})
	return int32(len(x.nodes) - 1)
}

// add files route n under prefix in g, and returns g. Routes are added
// in file order, so every node's routes stay sorted, and its min is its
// first route's or below.
func (x *routeIndex) add(g group, prefix string, n int32) group {
	g.min = min(g.min, n)
	if prefix == "/" {
		if g.slash == 0 {
			g.slash = x.node(n)
		}
		x.file(g.slash, n)
		return g
	}
	if g.root == 0 {
		g.root = x.node(n)
	}
	at := g.root
	x.nodes[at].min = min(x.nodes[at].min, n)
	for {
		seg, rest, more := strings.Cut(prefix, "/")
		at = x.child(at, seg, n)
		x.nodes[at].min = min(x.nodes[at].min, n)
		if !more {
			break
		}
		prefix = rest
	}
	x.file(at, n)
	return g
}

// child returns the child of node at under seg, added for route n when
// there was none.
func (x *routeIndex) child(at int32, seg string, n int32) int32 {
	nd := &x.nodes[at]
	switch nd.kids {
	case noKids:
		c := x.node(n)
		nd = &x.nodes[at] // x.node may have moved the arena
		nd.kids, nd.seg, nd.kid = oneKid, seg, c
		return c
	case oneKid:
		if nd.seg == seg {
			return nd.kid
		}
		x.edges[edge{at, nd.seg}] = nd.kid
		nd.kids, nd.seg, nd.kid = manyKids, "", 0
	}
	c, ok := x.edges[edge{at, seg}]
	if !ok {
		c = x.node(n)
		x.edges[edge{at, seg}] = c
	}
	return c
}

// file adds route n, above every route the node has, to the node's routes.
func (x *routeIndex) file(at, n int32) {
	nd := &x.nodes[at]
	switch {
	case nd.first == noRoute:
		nd.first = n
	case nd.more == 0:
		x.more = append(x.more, []int32{n})
		nd.more = int32(len(x.more))
	default:
		x.more[nd.more-1] = append(x.more[nd.more-1], n)
	}
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
		if g, ok := x.exact[h]; ok {
			best = x.lookup(g, p, m, best)
		}
		// A suffix starts with its dot (".example.com" from
		// "*.example.com"): h can end in one of length n only if it
		// has a dot n bytes from its end. One hash per length
		// configured, however long h is or however many dots it has.
		for _, n := range x.suffixLen {
			if i := len(h) - n; i >= 0 && h[i] == '.' {
				if g, ok := x.suffix[h[i:]]; ok {
					best = x.lookup(g, p, m, best)
				}
			}
		}
	}
	best = x.lookup(x.any, p, m, best)
	if best == noRoute {
		return nil
	}
	return x.routes[best]
}

// lookup returns the lowest route number below best of group g whose
// prefix takes path p and whose methods take m; best when there is none.
func (x *routeIndex) lookup(g group, p, m string, best int32) int32 {
	if g.min >= best {
		return best
	}
	if g.slash != 0 && strings.HasPrefix(p, "/") {
		best = x.take(g.slash, m, best)
	}
	at := g.root
	// Each step consumes one segment of p: the walk is linear in the
	// path's length, however many slashes it has.
	for at != 0 {
		nd := &x.nodes[at]
		if nd.kids == noKids || nd.min >= best {
			break
		}
		seg, rest, more := strings.Cut(p, "/")
		if nd.kids == oneKid {
			if nd.seg != seg {
				break
			}
			at = nd.kid
		} else if at = x.edges[edge{at, seg}]; at == 0 {
			break
		}
		best = x.take(at, m, best)
		if !more {
			break
		}
		p = rest
	}
	return best
}

// take returns the first route of node at below best whose methods take
// m; best when there is none.
func (x *routeIndex) take(at int32, m string, best int32) int32 {
	nd := &x.nodes[at]
	if nd.first >= best {
		return best
	}
	if x.routes[nd.first].takesMethod(m) {
		return nd.first
	}
	if nd.more == 0 {
		return best
	}
	for _, n := range x.more[nd.more-1] {
		if n >= best {
			break
		}
		if x.routes[n].takesMethod(m) {
			return n
		}
	}
	return best
}
