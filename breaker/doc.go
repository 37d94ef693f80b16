// Package breaker provides circuit breakers and the classification of call
// outcomes that drives them. It is usable on its own, around any client
// (HTTP, gRPC, database/sql), and is what duohuo's gateway puts in front of
// every instance and route.
//
// A [Breaker] is closed, open or half-open. It trips (opens) on
// consecutive failures, on a failure ratio over a sliding window once the
// window holds a minimum number of calls, and on a slow-call ratio (calls
// over a latency threshold, as Sentinel does). After OpenTimeout it lets a
// bounded number of probes through; if they all succeed it closes, the
// first failure opens it again. Every state change is an [Event] given to
// a listener ([Config.OnStateChange]; [LogTo] logs with slog; metrics
// subscribe the same way, so this package imports no metrics library).
//
// Outcomes are [Class] values. [Classify] and [Classifier] map errors
// (context errors, net errors, syscall errors, [StatusError]) to classes,
// [ClassOfStatus] maps HTTP statuses, [ClassOfSQLState] and [SQLStateRule]
// map database SQLSTATE codes. Client errors and cancellations never trip a
// breaker.
//
// # The shape of Allow and Done
//
// duohuo's house style for callers that learn the outcome later is
// Allow() (done func(err error), err error). A returned closure that
// captures the call's state allocates on every call, and a done func
// cached per breaker cannot know which call it ends (a call allowed before
// the breaker changed state must not count after it). So Allow returns a
// small [Ticket] value and the caller hands it back with the outcome:
//
//	t, err := b.Allow()
//	if err != nil { // breaker.ErrOpen: fail fast or go elsewhere
//		return err
//	}
//	resp, err := send(req)
//	b.Done(t, breaker.ClassOfStatus(resp.StatusCode), time.Since(start))
//
// Both are lock-free and allocation-free; see docs/resilience.md for the
// figures. [Breaker.Call] wraps a function for callers who prefer that:
//
//	err := b.Call(ctx, func(ctx context.Context) error { return db.PingContext(ctx) })
//
// A [Group] holds one breaker per key (instance ID, route), lock-free on
// lookup.
package breaker
