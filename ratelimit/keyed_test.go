package ratelimit_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/duohuo/duohuo/ratelimit"
)

func TestKeyedLRU(t *testing.T) {
	made := 0
	k := ratelimit.NewKeyed(2, func() *ratelimit.Concurrency { made++; return ratelimit.NewConcurrency(1) })
	a, b := k.Get("a"), k.Get("b")
	if k.Get("a") != a {
		t.Fatal("Get(a) twice gave two limiters")
	}
	k.Get("c") // b is the least recently used
	if k.Get("a") != a {
		t.Error("a was evicted; want b, the least recently used")
	}
	if k.Get("b") == b {
		t.Error("b still held after c came in beyond the bound of 2")
	}
	if n := k.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
	if made != 4 {
		t.Errorf("made %d limiters, want 4 (a, b, c, b again)", made)
	}
}

// An evicted key starts fresh; a call in flight on its old limiter ends
// there without touching the new one.
func TestKeyedEvictedKeyStartsFresh(t *testing.T) {
	k := ratelimit.NewKeyed(1, func() *ratelimit.Concurrency { return ratelimit.NewConcurrency(1) })
	old := k.Get("a")
	tk, _ := old.Allow()
	k.Get("b")
	fresh := k.Get("a")
	if _, err := fresh.Allow(); err != nil {
		t.Fatalf("evicted key's new limiter: Allow = %v, want a free slot", err)
	}
	old.Done(tk)
	if n := fresh.InFlight(); n != 1 {
		t.Errorf("the old ticket's Done changed the new limiter: InFlight %d, want 1", n)
	}
}

func TestKeyedBoundWithShards(t *testing.T) {
	for _, max := range []int{1, 7, 1024, 2000, 0} {
		k := ratelimit.NewKeyed(max, func() *ratelimit.Bucket { return ratelimit.NewBucket(ratelimit.BucketConfig{}) })
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5000 {
					k.Get(strconv.Itoa(g*5000 + i))
				}
			}()
		}
		wg.Wait()
		want := max
		if want == 0 {
			want = ratelimit.DefaultMaxKeys
		}
		if n := k.Len(); n != min(want, 20000) {
			t.Errorf("NewKeyed(%d) after 20000 keys: Len = %d, want %d", max, n, min(want, 20000))
		}
	}
}
