// Package analysis says whether a canary is worse than its baseline: the
// building block of automatic rollback.
//
// A [Cohort] is what was observed of one subset over a window (requests,
// errors, a latency [Histogram]); a [Recorder] accumulates one lock-free
// from the request path, and [Recorders] keeps one per route × subset.
// [FromCumulative] reads a Prometheus-style histogram. [Compare] checks the canary against the baseline
// under an [SLO]: a one-sided two-proportion z-test on the success rate
// (is the drop larger than MaxSuccessDrop, significantly?) and the ratio
// of the p99 latencies, once both cohorts hold MinRequests. The verdict is
// [Worse], [NotWorse] or [Inconclusive], with reasons.
//
//	canary, baseline := analysis.NewRecorder(nil), analysis.NewRecorder(nil)
//	// per request: canary.Observe(failed, latency)
//	res := analysis.Compare(canary.Snapshot(), baseline.Snapshot(), analysis.SLO{})
//	if res.Verdict == analysis.Worse {
//		store.Rollback(route, 0, gray.Meta{Who: "analysis", Comment: strings.Join(res.Reasons, "; ")})
//	}
//
// The package is pure: the standard library only.
package analysis
