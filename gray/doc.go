// Package gray decides which subset of a service's instances a request goes
// to: duohuo's gray (canary) release rules. It is pure (the standard
// library, request and discovery only) and works on a [request.View], so
// any HTTP stack can drive it.
//
// A route's [Policy] names instance subsets by labels (version: v2, lane:
// gray, cloud: ecloud), ordered [Rule]s that send matching requests to a
// subset, plain weights for the rest and a baseline. [Compile] validates it
// (every error located by its field path: "rules[2].headers[0].regex:
// program size 612 exceeds 500") into an immutable [Router], whose
// [Router.Route] is the per-request decision. The precedence is:
//
//  1. a trusted color (package color) naming one of the route's subsets;
//  2. the rules, in order, first match wins; a rule's conditions (header
//     exact / one-of / prefix / regex / present, cookie, query parameter,
//     W3C baggage member, source CIDR, stable user hash) must all hold;
//  3. the weights, rolled per request;
//  4. the baseline.
//
// The user hash is deterministic and monotonic: a user's bucket is
// [Bucket](salt, id) in [0, 10000), and a rule at p percent holds for
// buckets below p × 100. The same user lands in the same subset on every
// gateway, after every restart, and raising p only adds users.
//
// When the chosen subset has no healthy instance, [Router.Fallback] says
// where to go: the baseline under a [Permissive] policy, nowhere (503)
// under a [Strict] one.
//
// A [Store] holds the live router of every route, versioned: each change
// gets a store-wide increasing revision and who/when/comment, [Store.Rollback]
// restores the previous policy instantly, and the request path reads the
// live router with one atomic load ([Store.Router]). [NewHandler] serves
// the admin API (apply, rollback, history, dry run).
//
// Usage, in a gateway:
//
//	store := gray.NewStore(gray.StoreConfig{})
//	_, err := store.Apply("checkout", gray.Policy{
//		Subsets: []gray.Subset{{Name: "v2", Labels: map[string]string{"version": "v2"}}},
//		Rules: []gray.Rule{{Subset: "v2",
//			UserHash: &gray.UserHash{Header: "x-user-id", Percent: 5}}},
//	}, 0, gray.Meta{Who: "config-file"})
//	…
//	// per request, with lane from color.Propagator.Incoming:
//	if r := store.Router("checkout"); r != nil {
//		d := r.Route(request.FromHTTP(req), lane)
//		// pick among the healthy instances of r.Partition(view)[d.Index];
//		// none? d, ok = r.Fallback(d); !ok → 503
//	}
//
// Package gray/analysis compares a canary subset with its baseline.
package gray
