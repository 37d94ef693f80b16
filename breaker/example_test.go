package breaker_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/breaker"
)

// A breaker in front of a dependency that starts failing: it opens after
// three failures, refuses calls while open, lets a probe through after the
// open timeout and closes when the probe succeeds.
func Example() {
	b, err := breaker.New(breaker.Config{
		Name:                "inventory",
		ConsecutiveFailures: 3,
		OpenTimeout:         50 * time.Millisecond,
		HalfOpenProbes:      1,
		OnStateChange: func(e breaker.Event) {
			fmt.Printf("%s: %v → %v (%s)\n", e.Name, e.From, e.To, e.Reason)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	call := func(status int) {
		t, err := b.Allow()
		if err != nil {
			fmt.Println("refused:", err)
			return
		}
		b.Done(t, breaker.ClassOfStatus(status), 2*time.Millisecond)
	}
	call(404) // a client error: never trips
	for range 3 {
		call(503)
	}
	call(200)
	time.Sleep(60 * time.Millisecond)
	call(200)
	// Output:
	// inventory: closed → open (3 consecutive failures)
	// refused: breaker: open
	// inventory: open → half_open (open timeout elapsed)
	// inventory: half_open → closed (1 probes succeeded)
}
