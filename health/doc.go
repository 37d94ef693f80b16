// Package health decides which instances of a service are fit for traffic,
// and how much traffic each should get.
//
// A [Tracker] follows the instances of one service. It combines:
//
//   - active probes: a TCP connect, an HTTP GET of a path expecting a
//     status, or a gRPC health check (grpc.health.v1.Health/Check over
//     HTTP/2, cleartext or TLS) expecting SERVING, every interval plus
//     jitter, with unhealthy and healthy thresholds ([ProbeConfig]);
//   - passive outlier detection from the outcomes the proxy reports with
//     [Tracker.Observe]: consecutive gateway failures, consecutive 5xx and
//     success-rate outliers (mean − 1.9σ), with Envoy's defaults. Ejection
//     time grows with repeated ejections, at most MaxEjectionPercent of the
//     instances are ejected at once, and an instance returns through
//     [Probation] ([OutlierConfig]);
//   - a dynamic weight: configured weight × latency factor × success-rate
//     factor, with a floor ([DynamicWeight], [WeightConfig]).
//
// Observe is the request hot path: it only updates atomics. Decisions are
// taken by the Tracker's own goroutine and published as an immutable
// snapshot; [Tracker.Changes] tells the balancer when to rebuild.
//
// Usage:
//
//	tr, err := health.New(health.Config{Probe: health.ProbeConfig{Path: "/healthz"}})
//	if err != nil { … }
//	defer tr.Close()
//	tr.Update(view) // a discovery.ServiceView, again on every change
//	go func() {
//		for range tr.Changes() {
//			rebuildPicker(tr.Snapshot()) // Status and Weight per instance
//		}
//	}()
//	// in the proxy, after each attempt:
//	tr.Observe(inst.ID, health.Outcome{Class: health.ClassOfStatus(code), Latency: d})
//
// See docs/health.md for the model, the defaults and their reasons.
package health
