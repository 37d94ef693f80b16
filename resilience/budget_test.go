package resilience_test

import (
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/resilience"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestBudgetCapsRetriesAtRatioPlusFloor(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.2, MinPerSecond: 1, Window: 10 * time.Second, Now: c.now})
	for i := 0; i < 1000; i++ {
		b.Request()
	}
	allowed := 0
	for i := 0; i < 1000; i++ {
		if b.AllowRetry() {
			allowed++
		}
	}
	// 0.2 × 1000 + 1/s × 10s
	if allowed != 210 {
		t.Errorf("retries allowed after 1000 requests = %d, want 210", allowed)
	}
}

func TestBudgetFloorWithoutTraffic(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.2, MinPerSecond: 3, Now: c.now})
	n := 0
	for b.AllowRetry() {
		n++
		if n > 1000 {
			t.Fatal("budget never ran out")
		}
	}
	if n != 30 {
		t.Errorf("retries allowed with no requests = %d, want 3/s × 10s = 30", n)
	}
}

func TestBudgetWindowSlides(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.5, MinPerSecond: -1, Window: 10 * time.Second, Now: c.now})
	for i := 0; i < 100; i++ {
		b.Request()
	}
	for i := 0; i < 50; i++ {
		if !b.AllowRetry() {
			t.Fatalf("retry %d refused, want 50 allowed", i)
		}
	}
	if b.AllowRetry() {
		t.Fatal("retry 51 allowed, want refused")
	}
	c.add(11 * time.Second) // the old requests and retries leave the window
	if b.AllowRetry() {
		t.Error("retry allowed with no requests in the window and no floor")
	}
	b.Request()
	b.Request()
	if !b.AllowRetry() {
		t.Error("retry refused after 2 new requests at ratio 0.5")
	}
}

// Under a total outage with every request retried as often as allowed, the
// attempts stay within (1 + ratio) × requests + floor.
func TestBudgetBoundsAttemptsUnderOutage(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	b := resilience.NewBudget(resilience.BudgetConfig{Ratio: 0.2, MinPerSecond: 3, Now: c.now})
	requests, attempts := 0, 0
	for s := 0; s < 60; s++ {
		for i := 0; i < 100; i++ {
			b.Request()
			requests++
			attempts++
			for r := 0; r < 3 && b.AllowRetry(); r++ {
				attempts++
			}
		}
		c.add(time.Second)
	}
	if limit := float64(requests)*1.2 + 3*60 + 30; float64(attempts) > limit {
		t.Errorf("attempts = %d for %d requests, want ≤ %.0f", attempts, requests, limit)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	b := resilience.NewBudget(resilience.BudgetConfig{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				b.Request()
				b.AllowRetry()
			}
		}()
	}
	wg.Wait()
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		name    string
		attempt int
		r       float64
		want    time.Duration
	}{
		{"no retry yet", 0, 0.5, 0},
		{"first retry full", 1, 0.999999999, 25 * time.Millisecond},
		{"first retry half", 1, 0.5, 12500 * time.Microsecond},
		{"second doubles", 2, 0.5, 25 * time.Millisecond},
		{"capped at max", 10, 0.5, 125 * time.Millisecond},
		{"zero r", 3, 0, 0},
	} {
		got := resilience.Backoff(c.attempt, 25*time.Millisecond, 250*time.Millisecond, c.r)
		if got.Round(time.Microsecond) != c.want {
			t.Errorf("%s: Backoff(%d, 25ms, 250ms, %v) = %v, want %v", c.name, c.attempt, c.r, got, c.want)
		}
	}
}

func BenchmarkBudget(b *testing.B) {
	bu := resilience.NewBudget(resilience.BudgetConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bu.Request()
			bu.AllowRetry()
		}
	})
}
