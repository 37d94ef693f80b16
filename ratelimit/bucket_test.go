package ratelimit_test

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/ratelimit"
)

// admitted counts the calls a bucket admits when offered one every step
// for d (time is synctest's: sleeps cost nothing).
func admitted(b *ratelimit.Bucket, step, d time.Duration) int {
	n := 0
	for t := time.Duration(0); t < d; t += step {
		if b.Allow() {
			n++
		}
		time.Sleep(step)
	}
	return n
}

func TestBucketBurstThenRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 10, Burst: 10})
		for i := range 10 {
			if !b.Allow() {
				t.Fatalf("call %d of the burst refused", i+1)
			}
		}
		wait, ok := b.Reserve(0)
		if ok || wait != 100*time.Millisecond {
			t.Fatalf("Reserve(0) on an empty bucket = %v, %v; want 100ms, false", wait, ok)
		}
		time.Sleep(100 * time.Millisecond)
		if !b.Allow() {
			t.Fatal("refused after one permit's refill time")
		}
		// Offered 1000/s for 10 s: the rate, and no burst on top (empty).
		if n := admitted(b, time.Millisecond, 10*time.Second); n < 99 || n > 101 {
			t.Errorf("10/s bucket admitted %d of 10 s at 1000/s; want 100 ± 1", n)
		}
	})
}

func TestBucketQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 10, Burst: 1})
		b.Allow()
		for i := 1; i <= 5; i++ {
			wait, ok := b.Reserve(500 * time.Millisecond)
			if want := time.Duration(i) * 100 * time.Millisecond; !ok || wait != want {
				t.Fatalf("queued call %d: Reserve(500ms) = %v, %v; want %v, true", i, wait, ok, want)
			}
		}
		// The sixth would wait 600ms: refused, and nothing was taken.
		if wait, ok := b.Reserve(500 * time.Millisecond); ok || wait != 600*time.Millisecond {
			t.Fatalf("sixth Reserve(500ms) = %v, %v; want 600ms, false", wait, ok)
		}
		if got := b.Tokens(); got != 0 {
			t.Errorf("Tokens with 5 calls queued = %v, want 0", got)
		}
		time.Sleep(time.Second)
		if got := b.Tokens(); math.Abs(got-1) > 1e-9 {
			t.Errorf("Tokens after the queue drained and 100ms more = %v, want 1", got)
		}
	})
}

func TestBucketEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			cfg    ratelimit.BucketConfig
			offers int
			want   int
			wait   time.Duration // of the refusal after them; 0: none expected
		}{
			{"zero config admits one call ever", ratelimit.BucketConfig{}, 5, 1, ratelimit.MaxWait},
			{"no rate admits its burst once", ratelimit.BucketConfig{Rate: 0, Burst: 3}, 5, 3, ratelimit.MaxWait},
			{"negative rate is no rate", ratelimit.BucketConfig{Rate: -1, Burst: 2}, 5, 2, ratelimit.MaxWait},
			{"NaN rate is no rate", ratelimit.BucketConfig{Rate: math.NaN(), Burst: 2}, 5, 2, ratelimit.MaxWait},
			{"infinite rate admits all", ratelimit.BucketConfig{Rate: math.Inf(1)}, 1000, 1000, 0},
			{"tiny rate waits long", ratelimit.BucketConfig{Rate: 1e-12, Burst: 1}, 2, 1, ratelimit.MaxWait},
			{"huge rate", ratelimit.BucketConfig{Rate: 1e12, Burst: 1}, 1, 1, 0},
		} {
			b := ratelimit.NewBucket(tc.cfg)
			n := 0
			for range tc.offers {
				if b.Allow() {
					n++
				}
			}
			if n != tc.want {
				t.Errorf("%s: admitted %d of %d, want %d", tc.name, n, tc.offers, tc.want)
			}
			if tc.wait != 0 {
				if wait, ok := b.Reserve(time.Hour); ok || wait != tc.wait {
					t.Errorf("%s: Reserve(1h) = %v, %v; want %v, false", tc.name, wait, ok, tc.wait)
				}
			}
		}
	})
}

// The warm-up ramp, as Sentinel's WarmUp with coldFactor 3: a cold bucket
// admits rate/3, reaches the rate after WarmUp of saturation, and is cold
// again after WarmUp of idleness; after WarmUp/(coldFactor−1) of idleness
// it is still warm.
func TestBucketWarmUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 100, Burst: 1, WarmUp: 10 * time.Second})
		near := func(what string, got, want, tol float64) {
			t.Helper()
			if math.Abs(got-want) > tol {
				t.Errorf("%s: %.2f, want %.2f ± %.2f", what, got, want, tol)
			}
		}
		near("rate when new", b.CurrentRate(), 100.0/3, 0.01)
		first := admitted(b, 100*time.Microsecond, time.Second)
		near("admitted in the first second", float64(first), 34, 2)
		// Saturated, the bucket warms within WarmUp.
		var total int
		for range 9 {
			total += admitted(b, 100*time.Microsecond, time.Second)
		}
		near("rate after WarmUp of saturation", b.CurrentRate(), 100, 3)
		// Each call of the ramp takes one permit of coldness, and the
		// ramp holds 2 × WarmUp × rate/(1+3) of them: 500 calls.
		near("admitted in the first 10 s", float64(first+total), 500, 10)
		if n := admitted(b, 100*time.Microsecond, 10*time.Second); n < 995 {
			t.Errorf("admitted %d in 10 s once warm, want about 1000", n)
		}
		time.Sleep(4 * time.Second) // < WarmUp/(3−1): still warm
		near("rate after 4 s idle", b.CurrentRate(), 100, 0.01)
		time.Sleep(6 * time.Second) // 10 s idle in all: cold
		near("rate after WarmUp idle", b.CurrentRate(), 100.0/3, 0.1)
	})
}

// Cold, the burst is divided by the cold factor too: a cold upstream does
// not get a full burst either.
func TestBucketWarmUpBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 100, Burst: 30, WarmUp: 10 * time.Second, ColdFactor: 3})
		n := 0
		for range 100 {
			if b.Allow() {
				n++
			}
		}
		if n != 10 {
			t.Errorf("cold bucket of burst 30, factor 3 admitted a burst of %d, want 10", n)
		}
	})
}

func TestBucketConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 1, Burst: 100})
		var n [8]int
		done := make(chan struct{})
		for g := range 8 {
			go func() {
				defer func() { done <- struct{}{} }()
				for range 100 {
					if b.Allow() {
						n[g]++
					}
				}
			}()
		}
		sum := 0
		for g := range 8 {
			<-done
			sum += n[g]
		}
		if sum != 100 {
			t.Errorf("8 goroutines × 100 calls on a bucket of 100 (no time passing): %d admitted, want 100", sum)
		}
	})
}
