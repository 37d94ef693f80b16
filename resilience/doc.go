// Package resilience holds the mechanisms that keep retries from turning a
// partial outage into a full one: a retry [Budget] and jittered exponential
// [Backoff].
//
//	b := resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.2, MinPerSecond: 3})
//	b.Request()            // once per client request
//	if b.AllowRetry() {    // once per retry; false: do not retry
//		time.Sleep(resilience.Backoff(attempt, 25*time.Millisecond, 250*time.Millisecond, rand.Float64()))
//		…
//	}
//
// It imports only the standard library.
package resilience
