// Package gateway wires duohuo's data plane for `duohuo serve`: it is the one
// place to read the request path end to end.
//
//	client → listener → route (host, path prefix, method) → service
//	       → balancer.Pick (locality tier, then policy; health decides who is eligible)
//	       → proxy.Forwarder attempt → outcome to health.Tracker and the pick
//	       → on a retryable failure: another instance, within the retry budget
//	       → response streamed back; metrics recorded
//
// Control plane: a discovery.Aggregator runs every service's sources; each
// service has a goroutine that rebuilds its balancer whenever discovery or
// health checking changes something. The routing table is an immutable
// snapshot swapped atomically by [Gateway.Reload]; a request keeps the
// snapshot it started with, and services whose configuration did not change
// keep their health and latency state across reloads.
package gateway
