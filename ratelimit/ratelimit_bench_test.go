package ratelimit_test

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/ratelimit"
)

// The decision path of each limiter, single goroutine and parallel, on a
// limiter that admits everything offered (the common case) or refuses.

func BenchmarkBucketAllow(b *testing.B) {
	l := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: math.Inf(1), Burst: 1})
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

func BenchmarkBucketAllowRefused(b *testing.B) {
	l := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 1e-9, Burst: 1})
	b.ReportAllocs()
	for b.Loop() {
		l.Reserve(0)
	}
}

func BenchmarkBucketAllowWarmUp(b *testing.B) {
	l := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: 1e9, Burst: 100, WarmUp: 10 * time.Second})
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

func BenchmarkBucketAllowParallel(b *testing.B) {
	l := ratelimit.NewBucket(ratelimit.BucketConfig{Rate: math.Inf(1), Burst: 1})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

func BenchmarkWindowAllow(b *testing.B) {
	l := ratelimit.NewWindow(ratelimit.WindowConfig{Window: time.Second, Requests: math.MaxInt32})
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

func BenchmarkWindowAllowParallel(b *testing.B) {
	l := ratelimit.NewWindow(ratelimit.WindowConfig{Window: time.Second, Requests: math.MaxInt32})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

func BenchmarkConcurrencyAllowDone(b *testing.B) {
	l := ratelimit.NewConcurrency(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		t, _ := l.Allow()
		l.Done(t)
	}
}

func BenchmarkConcurrencyAllowDoneParallel(b *testing.B) {
	l := ratelimit.NewConcurrency(1 << 20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, _ := l.Allow()
			l.Done(t)
		}
	})
}

func keys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	return ks
}

func newKeyedBuckets(max int) *ratelimit.Keyed[*ratelimit.Bucket] {
	return ratelimit.NewKeyed(max, func() *ratelimit.Bucket {
		return ratelimit.NewBucket(ratelimit.BucketConfig{Rate: math.Inf(1), Burst: 1})
	})
}

// BenchmarkKeyedAllow: 1000 tracked keys of a Keyed of 10,000.
func BenchmarkKeyedAllow(b *testing.B) {
	k, ks := newKeyedBuckets(10000), keys(1000)
	for _, key := range ks {
		k.Get(key)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.Get(ks[i%len(ks)]).Allow()
		i++
	}
}

func BenchmarkKeyedAllowParallel(b *testing.B) {
	k, ks := newKeyedBuckets(10000), keys(1000)
	for _, key := range ks {
		k.Get(key)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919))
		for pb.Next() {
			k.Get(ks[i%len(ks)]).Allow()
			i++
		}
	})
}

// BenchmarkKeyedChurn: every call a key the Keyed does not hold (4× its
// bound, in turn), so every call evicts: the cost of a new key.
func BenchmarkKeyedChurn(b *testing.B) {
	k, ks := newKeyedBuckets(1024), keys(4096)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.Get(ks[i%len(ks)]).Allow()
		i++
	}
}

// Baselines from the same run: what a decision is made of, a monotonic
// clock reading and an uncontended mutex.

func BenchmarkBaselineClock(b *testing.B) {
	base := time.Now()
	b.ReportAllocs()
	var d time.Duration
	for b.Loop() {
		d += time.Since(base)
	}
	_ = d
}

func BenchmarkBaselineMutex(b *testing.B) {
	var mu sync.Mutex
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		mu.Lock()
		n++
		mu.Unlock()
	}
}
