package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/ratelimit"
)

func TestConcurrencyAllowDone(t *testing.T) {
	c := ratelimit.NewConcurrency(2)
	t1, err1 := c.Allow()
	t2, err2 := c.Allow()
	if err1 != nil || err2 != nil {
		t.Fatalf("Allow ×2 under a limit of 2: %v, %v", err1, err2)
	}
	if _, err := c.Allow(); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("third Allow = %v, want ErrLimited", err)
	}
	c.Done(ratelimit.Ticket{}) // ignored
	if n := c.InFlight(); n != 2 {
		t.Fatalf("InFlight after Done(zero Ticket) = %d, want 2", n)
	}
	c.Done(t1)
	c.Done(t2)
	if n := c.InFlight(); n != 0 {
		t.Fatalf("InFlight after both Done = %d, want 0", n)
	}
	if _, err := ratelimit.NewConcurrency(0).Allow(); !errors.Is(err, ratelimit.ErrLimited) {
		t.Errorf("NewConcurrency(0).Allow = %v, want ErrLimited", err)
	}
}

func TestConcurrencyWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := ratelimit.NewConcurrency(1)
		held, _ := c.Allow()
		got := make(chan error, 1)
		go func() {
			tk, err := c.Wait(context.Background())
			got <- err
			c.Done(tk)
		}()
		synctest.Wait() // the waiter is blocked
		select {
		case err := <-got:
			t.Fatalf("Wait returned %v while the slot was held", err)
		default:
		}
		c.Done(held)
		if err := <-got; err != nil {
			t.Fatalf("Wait after Done = %v", err)
		}
		held, _ = c.Allow()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := c.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait on a held slot with a 50ms deadline = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("Wait gave up after %v, want 50ms", d)
		}
		c.Done(held)
	})
}

// Many callers waiting and finishing: the limit is never exceeded and
// every waiter gets through (one signal per Done is passed on while slots
// remain free).
func TestConcurrencyStress(t *testing.T) {
	const limit, callers, calls = 3, 16, 200
	c := ratelimit.NewConcurrency(limit)
	var peak, now atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				tk, err := c.Wait(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				n := now.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				now.Add(-1)
				c.Done(tk)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Errorf("peak in flight %d, over the limit %d", p, limit)
	}
	if n := c.InFlight(); n != 0 {
		t.Errorf("InFlight at the end = %d, want 0", n)
	}
}
