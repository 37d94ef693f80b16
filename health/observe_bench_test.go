package health_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/health"
)

func benchTracker(b *testing.B) *health.Tracker {
	tr, err := health.New(health.Config{Probe: health.ProbeConfig{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	tr.Update(viewOf(16))
	return tr
}

func BenchmarkObserve(b *testing.B) {
	for _, c := range []health.Class{health.Success, health.ServerError, health.ClientError} {
		b.Run(fmt.Sprint(c), func(b *testing.B) {
			tr := benchTracker(b)
			o := health.Outcome{Class: c, Latency: 3 * time.Millisecond}
			b.ReportAllocs()
			for b.Loop() {
				tr.Observe("i7", o)
			}
		})
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	tr := benchTracker(b)
	ids := make([]string, 16)
	for i := range ids {
		ids[i] = fmt.Sprintf("i%d", i)
	}
	o := health.Outcome{Class: health.Success, Latency: 3 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tr.Observe(ids[i%len(ids)], o)
			i++
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	tr := benchTracker(b)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = tr.State("i7")
	}
}

// mutexTracker is the baseline Observe is measured against: the same
// counters behind one mutex, the plain Go way.
type mutexTracker struct {
	mu sync.Mutex
	m  map[string]*mutexCounts
}

type mutexCounts struct{ reqs, succ, latSum, latN, consec int64 }

func (t *mutexTracker) observe(id string, o health.Outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.m[id]
	if c == nil {
		return
	}
	c.reqs++
	if o.Class == health.Success {
		c.succ++
		c.consec = 0
	}
	c.latSum += int64(o.Latency)
	c.latN++
}

func BenchmarkBaselineMutexObserveParallel(b *testing.B) {
	t := &mutexTracker{m: map[string]*mutexCounts{}}
	ids := make([]string, 16)
	for i := range ids {
		ids[i] = fmt.Sprintf("i%d", i)
		t.m[ids[i]] = &mutexCounts{}
	}
	o := health.Outcome{Class: health.Success, Latency: 3 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			t.observe(ids[i%len(ids)], o)
			i++
		}
	})
}
