// Package balancer picks the instance that serves each request attempt: first
// a locality tier, then an instance inside it.
//
// A [Balancer] holds an immutable snapshot of [Endpoint]s (instance, health,
// effective weight) that [Balancer.Update] rebuilds off the request path and
// publishes with an atomic swap, as grpc-go publishes a new picker. The hot
// path, [Balancer.Pick], reads the snapshot without locks and without
// allocating; the outcome of the attempt flows back through [Pick.Done],
// which updates per-instance atomics (in-flight requests, peak-EWMA latency,
// recent success) that survive updates.
//
// # Locality tiers
//
// Every instance falls in a tier by [discovery.Locality.TierFrom] the
// gateway's own locality: same zone, same region, same cloud, other clouds.
// Traffic goes to the nearest tier while it is healthy enough and spills
// to the next ones as its healthy share falls, as Envoy's priority levels
// do, with an overprovisioning factor (default 1.4) and a panic threshold
// (default 50%):
//
//	health(t)  = min(1, 1.4 × healthy(t) / total(t))
//	normalized = min(1, Σ health(t))
//	load(t)    = min(1 − Σ_{u<t} load(u), health(t) / normalized)
//
// With 10 instances in the gateway's zone and healthy ones elsewhere: 8
// healthy → health min(1, 1.12) = 1, the zone keeps 100% of traffic; 5
// healthy → 0.7, the zone takes 70% and the region the other 30%. When the
// tiers together cannot take all traffic (normalized < 1), a tier with fewer
// than 50% healthy instances is in panic and spreads its load over all its
// instances, healthy or not, rather than overloading its few survivors;
// when every tier is in panic, all instances share the traffic by weight.
// docs/balancing.md works through more examples.
//
// # Policies
//
// Inside a tier the [Policy] chooses: [PeakEWMA] (power of two choices over
// latency × in-flight, Finagle and Linkerd's default), [RoundRobin] (nginx's
// smooth weighted round-robin) or [LeastRequest] (power of two choices over
// in-flight requests per unit of weight, Envoy's least_request).
//
// # Usage
//
//	b, err := balancer.New(balancer.Config{
//		Policy: balancer.PeakEWMA,
//		Local:  discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"},
//	})
//	if err != nil { … }
//	// Whenever discovery or health checking changes something:
//	err = b.Update([]balancer.Endpoint{{Instance: in, Healthy: true}, …})
//
//	// Per attempt; exclude skips the instances a retry already tried.
//	p, err := b.Pick(request.FromHTTP(req), tried.Contains)
//	if errors.Is(err, balancer.ErrNoInstance) { … fall back … }
//	start := time.Now()
//	resp, err := send(p.Instance.Addr)
//	p.Done(time.Since(start), result) // balancer.Succeeded, Failed or Neutral
package balancer
