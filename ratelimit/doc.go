// Package ratelimit provides the limiters of duohuo's flow control: a token
// bucket with an optional cold-start ramp, a sliding-window counter, a
// concurrency limit, and a keyed set of any of them with a bounded number
// of keys. It imports only the standard library and is usable on its own,
// in front of any handler or client.
//
// Every limiter is safe for concurrent use, and its decision (Allow,
// Reserve, Done) neither blocks nor allocates; only [Concurrency.Wait]
// blocks, and only [Keyed.Get] of a key it does not hold allocates.
//
//	b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 100, Burst: 20})
//	if wait, ok := b.Reserve(0); !ok {
//		// refused: answer 429 with Retry-After: wait
//	}
//
// A rate limiter ([Bucket], [Window]) answers Reserve(maxWait): the permit
// now, a permit after a wait of at most maxWait (the caller queues; the
// permit is already its own), or a refusal with the time until a permit
// would be free, for a Retry-After header. A [Concurrency] limit counts
// calls in flight in the shape of package breaker: Allow returns a small
// [Ticket] value that the caller hands back to Done when the call ends.
//
// docs/flow-control.md gives the exact semantics and the figures.
package ratelimit
