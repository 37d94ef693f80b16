package resilience_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/resilience"
)

// A budget of 20% plus no floor lets 100 requests carry at most 20 retries.
func ExampleBudget() {
	b := resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.2, MinPerSecond: -1})
	for i := 0; i < 100; i++ {
		b.Request()
	}
	retries := 0
	for b.AllowRetry() {
		retries++
	}
	fmt.Println("retries allowed:", retries)
	fmt.Println("third backoff at most:", resilience.Backoff(3, 25*time.Millisecond, 250*time.Millisecond, 1))
	// Output:
	// retries allowed: 20
	// third backoff at most: 100ms
}
