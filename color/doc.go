// Package color carries a request's traffic color (its gray lane) across
// a chain of services, and decides whom to believe about it.
//
// The color travels in two forms, written together and read from either:
// a header (default X-Gray-Id: <lane>) and a W3C baggage member (default
// gray.lane=<lane>), which tracing-aware proxies and SDKs pass on. Other
// baggage members are kept as written; the W3C limits (64 members, 8192
// bytes) are enforced ([SetBaggage], [RemoveBaggage], [BaggageValue]).
//
// An incoming color is trusted only from configured sources: peers in
// Config.TrustedNets (the internal networks of gateways and sidecars), or
// any peer presenting a token signed with one of Config.Keys (HMAC-SHA256,
// see [Propagator.Sign] for the format; keys rotate by listing the new and
// the old one). From anyone else the color is stripped, so an outside
// client cannot push itself into a gray lane.
//
// A service uses the server [Propagator.Middleware] and the client
// [Propagator.Transport]; the lane flows through the context in between:
//
//	p, err := color.New(color.Config{
//		TrustedNets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
//	})
//	http.Handle("/", p.Middleware(handler))
//	client := &http.Client{Transport: p.Transport(nil)}
//	// in handler:
//	req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://b/api", nil)
//	resp, err := client.Do(req) // colored like the incoming request
//
// The gateway uses [Propagator.Incoming] at the edge, [Propagator.Strip]
// on untrusted requests and [Propagator.Set] on requests it routes into a
// lane, and answers with [ServedHeader].
//
// # gRPC and other carriers
//
// Package color/grpccolor has the gRPC interceptor pairs (server and
// client, unary and stream), in a package of its own so that HTTP users do
// not depend on gRPC. Other carriers (message queue headers) use
// [Propagator.Trust], [SetBaggage] and [Propagator.OutgoingToken] directly.
package color
