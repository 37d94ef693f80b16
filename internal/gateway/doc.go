// Package gateway wires duohuo's data plane for `duohuo serve`: it is the one
// place to read the request path end to end.
//
// An HTTP engine (engine_http.go: net/http for HTTP/1.1, HTTP/2 and h2c)
// adapts each client request to three seams — [Request], [Upstream] and
// [Responder] — and hands it to the exchange core (exchange.go), which
// imports no HTTP library:
//
//	client → path normalised (dot segments, slashes; path.go)
//	       → engine: forwarding headers believed from trusted proxies only
//	       → route (host, path prefix on whole segments, method) → service;
//	         an escaped /, \ or . → 400 unless the route opts in
//	       → color: believed from trusted peers only, stripped otherwise
//	       → gray: the route's policy picks a lane (a balancer per subset)
//	       → route breaker: open → fallback or 503
//	       → attempts:
//	           pick (locality tier, then policy; health, suspect tiers and
//	                 open breakers decide who is eligible; panic uses all)
//	           send over the Upstream seam (HTTP/1.1, h2c, h2)
//	           hedge at the adaptive per-try deadline (or the route's hedge
//	                 delay) to another instance, outside a silent tier
//	           retry on a retryable failure, within the budget
//	       → answer: the winning response (streamed), else the last
//	         upstream answer as it came, else a fallback, else the
//	         gateway's own 502/503/504 (a gRPC status for gRPC calls)
//
// Each attempt ends in one [Outcome] — class, who is at fault (client,
// instance, gateway, policy), status, latency — reported once, by
// service.report, to the balancer, the instance's breaker, the health
// tracker, the route's latency window and the metrics. A client's own
// failure never counts against an instance.
//
// Deadlines: the route timeout bounds the wait for the response head,
// retries included, from when the request was sent whole; bodies are
// guarded by stream_idle_timeout and, when set, max_duration.
//
// Control plane: a discovery.Aggregator runs every service's sources; each
// service has a goroutine that rebuilds its balancer whenever discovery,
// health checking or a suspect tier changes something. The routing table
// is an immutable snapshot swapped atomically by [Gateway.Reload]; a
// request keeps the snapshot it started with, and services whose
// configuration did not change keep their health and latency state across
// reloads.
package gateway
