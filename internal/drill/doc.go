// Package drill breaks the demo topology under load and reports what the
// clients saw: `duohuo drill`.
//
// A drill runs built-in [Scenario]s (steady traffic in one cloud, cross-cloud
// failover, three-cloud mixed balancing, a slow instance, an instance that
// answers 503, a cloud that flaps, a cloud that goes silent, a cloud that
// browns out) against a fresh demo topology each, under
// an open-loop constant-rate [Load]: request i is scheduled at start + i/rate
// whatever happened to the earlier ones and its latency is measured from
// that scheduled time, so a stall in the gateway shows as latency instead of
// as fewer requests (coordinated omission). Each scenario is split into
// phases (before, fault, after) with their own statistics, and fault phases
// get the time to recover (from the fault to the first one-second window at
// 99.9% success or better) and the time until no attempt reaches the faulty
// instances, read from the gateway's duohuo_upstream_attempts_total.
//
// The silent-cloud scenarios ([Blackhole], [Brownout]) break the network
// instead of the instances: every demo instance sits behind a TCP fault
// proxy (fault/tcpproxy, the engine of `duohuo chaos proxy`), the gateway
// runs with the product's defaults, and the proxies count what arrives
// from the gateway in [BucketWidth] buckets — the attempts it really sent,
// where they arrive ([ProxyReport]).
//
// With [Options].Target the same load goes to any URL instead (your own
// gateway), without a fault; with [Options].FaultProxies as well, the
// silent-cloud scenarios break the network through `duohuo chaos proxy`
// processes you placed in front of one cloud's instances, and always
// repair it before Run returns.
//
// Usage:
//
//	rep, err := drill.Run(ctx, drill.Options{
//		Scenarios: []drill.Scenario{drill.Failover},
//		Rate:      200,
//		Duration:  30 * time.Second,
//	})
//	if err != nil { … }
//	rep.WriteMarkdown(os.Stdout)
package drill
