// Package slo measures service level indicators (SLIs) against objectives
// (SLOs), raises multiwindow, multi-burn-rate alerts as the Google SRE
// Workbook describes them ("Alerting on SLOs", table 5-8), and folds the
// indicators into one health score between 0 and 1. It imports only the
// standard library and needs no Prometheus: duohuo's gateway evaluates its
// objectives in process and exports the results (docs/observability.md).
//
// An SLI is a [Counter] of good and total events. A latency SLI is the same
// counter with good meaning "at most the threshold" ([Counter.RecordAt]
// with d <= threshold). A [Histogram] keeps latencies for quantiles (the
// cross-cloud P99 drift). Both record with a few atomic operations and no
// allocation, and are safe for concurrent use.
//
// # Memory
//
// A counter keeps cumulative counts, and a snapshot of them at every bucket
// boundary, in two rings of fixed size: one-minute buckets over the last six
// hours (361 snapshots) for the short windows (5m, 30m, 1h, 6h), one-hour
// buckets over the objective's period (721 snapshots for 30 days) for the
// long ones (3d) and the error budget. That is about 17 KiB per counter,
// whatever the traffic. The events of a window of length d are the counts
// now less the snapshot taken d before the start of the current bucket: a
// window covers between d and d plus one bucket (one minute up to 6h, one
// hour beyond), and always includes the latest events.
//
// # Usage
//
//	avail := slo.NewCounter(30 * 24 * time.Hour)
//	obj := slo.Objective{Target: 0.999} // 30 days, slo.DefaultAlerts
//	…
//	avail.RecordAt(now, status < 500) // per request
//	…
//	r := obj.Evaluate(avail, time.Now())
//	for _, a := range r.Firing {
//		fmt.Println(a.Severity, a.Long, a.Short, a.Burn)
//	}
//	fmt.Println(r.BudgetRemaining)
//
// The health score ([ScoreConfig.Score]) is a weighted mean of sub-scores
// in [0, 1]: availability and latency burn rates, the relative P99 drift of
// a cloud against the best one ([Drift]), lock lease keep-alive success and
// replica lag, each only where present.
package slo
