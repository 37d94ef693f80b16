package breaker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/breaker"
)

func benchBreaker(b *testing.B, cfg breaker.Config) *breaker.Breaker {
	br, err := breaker.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkAllowDone is the hot path of a healthy dependency: a closed
// breaker, a successful call.
func BenchmarkAllowDone(b *testing.B) {
	br := benchBreaker(b, breaker.Config{SlowCallThreshold: time.Second})
	b.ReportAllocs()
	for b.Loop() {
		t, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		br.Done(t, breaker.Success, time.Millisecond)
	}
}

// BenchmarkAllowDoneAt is the hot path of a proxy that reads the clock
// once per attempt and shares the reading with the breaker.
func BenchmarkAllowDoneAt(b *testing.B) {
	br := benchBreaker(b, breaker.Config{SlowCallThreshold: time.Second})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		t, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		br.DoneAt(t, breaker.Success, time.Millisecond, now)
	}
}

var sink time.Duration

// BenchmarkClock is the baseline: one monotonic clock read, what Done
// costs on top of DoneAt.
func BenchmarkClock(b *testing.B) {
	base := time.Now()
	for b.Loop() {
		sink += time.Since(base)
	}
}

func BenchmarkAllowDoneParallel(b *testing.B) {
	br := benchBreaker(b, breaker.Config{SlowCallThreshold: time.Second})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			br.Done(t, breaker.Success, time.Millisecond)
		}
	})
}

// BenchmarkAllowDoneFailing measures a closed breaker under a 10% failure
// rate, where each failure sums the window; the ratio stays under the
// trip threshold.
func BenchmarkAllowDoneFailing(b *testing.B) {
	br := benchBreaker(b, breaker.Config{ConsecutiveFailures: -1})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t, err := br.Allow()
		if err != nil {
			b.Fatal(err)
		}
		c := breaker.Success
		if i%10 == 0 {
			c = breaker.ServerError
		}
		i++
		br.Done(t, c, time.Millisecond)
	}
}

// BenchmarkAllowOpen is the fail-fast path of an open breaker.
func BenchmarkAllowOpen(b *testing.B) {
	br := benchBreaker(b, breaker.Config{ConsecutiveFailures: 1, OpenTimeout: time.Hour})
	t, _ := br.Allow()
	br.Done(t, breaker.Network, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Allow(); err == nil {
			b.Fatal("open breaker allowed a call")
		}
	}
}

func BenchmarkGroupGet(b *testing.B) {
	g, err := breaker.NewGroup(breaker.Config{})
	if err != nil {
		b.Fatal(err)
	}
	keys := []string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080", "10.0.0.4:8080"}
	for _, k := range keys {
		g.Get(k)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = g.Get(keys[i&3])
		i++
	}
}

// mutexBreaker is the baseline: the shape of sony/gobreaker, one mutex
// taken and the clock read in both halves of a call, written here (not
// imported) so that the comparison runs in the same binary.
type mutexBreaker struct {
	mu      sync.Mutex
	base    time.Time
	expiry  time.Duration
	calls   uint64
	fails   uint64
	consec  uint64
	open    bool
	opensAt time.Duration
}

func (m *mutexBreaker) allow() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Since(m.base)
	if now > m.expiry {
		m.calls, m.fails, m.expiry = 0, 0, now+10*time.Second
	}
	return !m.open || now >= m.opensAt
}

func (m *mutexBreaker) done(fail bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = time.Since(m.base)
	m.calls++
	if fail {
		m.fails++
		m.consec++
		return
	}
	m.consec = 0
}

func BenchmarkBaselineMutexAllowDone(b *testing.B) {
	m := &mutexBreaker{base: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if m.allow() {
			m.done(false)
		}
	}
}

func BenchmarkBaselineMutexAllowDoneParallel(b *testing.B) {
	m := &mutexBreaker{base: time.Now()}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if m.allow() {
				m.done(false)
			}
		}
	})
}

// BenchmarkAllowDoneAtParallel is the parallel hot path with the
// caller's clock reading.
func BenchmarkAllowDoneAtParallel(b *testing.B) {
	br := benchBreaker(b, breaker.Config{SlowCallThreshold: time.Second})
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := br.Allow()
			if err != nil {
				b.Fatal(err)
			}
			br.DoneAt(t, breaker.Success, time.Millisecond, now)
		}
	})
}
