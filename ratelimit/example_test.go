package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/ratelimit"
)

// A bucket of 3 permits that gains 1 per second: a burst of 3 passes, the
// fourth call is refused and told when to come back; a caller that may
// queue for 2s gets a permit to use after that wait.
func Example() {
	b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 1, Burst: 3})
	for i := range 4 {
		wait, ok := b.Reserve(0)
		fmt.Printf("call %d: admitted %v, retry after %v\n", i+1, ok, wait.Round(100*time.Millisecond))
	}
	wait, ok := b.Reserve(2 * time.Second)
	fmt.Printf("queued: %v, after %v\n", ok, wait.Round(100*time.Millisecond))
	// Output:
	// call 1: admitted true, retry after 0s
	// call 2: admitted true, retry after 0s
	// call 3: admitted true, retry after 0s
	// call 4: admitted false, retry after 1s
	// queued: true, after 1s
}

// A concurrency limit of 2 in the shape of package breaker: Allow returns
// a Ticket, Done gives the slot back.
func ExampleConcurrency() {
	c := ratelimit.NewConcurrency(2)
	t1, _ := c.Allow()
	t2, _ := c.Allow()
	_, err := c.Allow()
	fmt.Println(c.InFlight(), err)
	c.Done(t1)
	t3, err := c.Allow()
	fmt.Println(c.InFlight(), err)
	c.Done(t2)
	c.Done(t3)
	fmt.Println(c.InFlight())
	// Output:
	// 2 ratelimit: limited
	// 2 <nil>
	// 0
}

// One bucket per client, at most two clients tracked: the least recently
// seen is evicted and starts fresh when it comes back.
func ExampleKeyed() {
	k := ratelimit.NewKeyed(2, func() *ratelimit.Bucket {
		return ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 0.001, Burst: 1})
	})
	fmt.Println(k.Get("alice").Allow(), k.Get("alice").Allow())
	fmt.Println(k.Get("bob").Allow(), k.Get("carol").Allow()) // alice evicted
	fmt.Println(k.Get("alice").Allow(), k.Len())
	// Output:
	// true false
	// true true
	// true 2
}
