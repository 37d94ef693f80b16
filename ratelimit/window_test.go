package ratelimit_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/ratelimit"
)

func TestWindowLimitAndRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := ratelimit.NewWindow(ratelimit.WindowConfig{Window: time.Second, Requests: 10})
		for i := range 10 {
			if !w.Allow() {
				t.Fatalf("call %d of 10 refused", i+1)
			}
		}
		// The window's 10 calls slide out of the next one from 1 s on: one
		// more fits when 10·(1−f) + 1 ≤ 10, at f = 0.1.
		wait, ok := w.Reserve(0)
		if ok || wait != 1100*time.Millisecond {
			t.Fatalf("11th call: Reserve(0) = %v, %v; want 1.1s, false", wait, ok)
		}
		time.Sleep(999 * time.Millisecond)
		if w.Allow() {
			t.Fatal("admitted at 999ms: a fixed window would, a sliding one must not")
		}
		time.Sleep(time.Millisecond) // 1 s: the previous window weighs 10
		if w.Allow() {
			t.Fatal("admitted at the edge of the window: 10 calls still in the last second")
		}
		time.Sleep(100 * time.Millisecond)
		if !w.Allow() {
			t.Fatalf("refused at 1.1s, when the estimate is 9 (count %v)", w.Count())
		}
		// Long run at 1000/s offered: under a sustained overload the
		// estimate admits Requests−1 per window (the last call of a window
		// would land on its edge), 9 here.
		n := 0
		for range 10000 {
			if w.Allow() {
				n++
			}
			time.Sleep(time.Millisecond)
		}
		if n < 89 || n > 101 {
			t.Errorf("admitted %d in 10 s, want 90 to 100", n)
		}
		time.Sleep(2 * time.Second)
		if c := w.Count(); c != 0 {
			t.Errorf("Count after 2 windows idle = %v, want 0", c)
		}
	})
}

func TestWindowQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := ratelimit.NewWindow(ratelimit.WindowConfig{Window: time.Second, Requests: 2})
		w.Allow()
		w.Allow()
		// Counted when queued: each queued call pushes the next further.
		var last time.Duration
		for i := range 3 {
			wait, ok := w.Reserve(5 * time.Second)
			if !ok || wait <= last {
				t.Fatalf("queued call %d: Reserve(5s) = %v, %v; want ok and after %v", i+1, wait, ok, last)
			}
			last = wait
		}
		if wait, ok := w.Reserve(time.Millisecond); ok {
			t.Fatalf("Reserve(1ms) behind a queue = %v, true; want refused", wait)
		}
	})
}

func TestWindowEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zero := ratelimit.NewWindow(ratelimit.WindowConfig{})
		if wait, ok := zero.Reserve(time.Hour); ok || wait != ratelimit.MaxWait {
			t.Errorf("zero WindowConfig: Reserve(1h) = %v, %v; want MaxWait, false", wait, ok)
		}
		one := ratelimit.NewWindow(ratelimit.WindowConfig{Window: -time.Second, Requests: 1})
		one.Allow()
		if wait, ok := one.Reserve(0); ok || wait != 2*time.Second {
			t.Errorf("negative Window (1s): Reserve(0) after 1 call = %v, %v; want 2s, false", wait, ok)
		}
	})
}
