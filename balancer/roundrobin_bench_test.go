package balancer

import (
	"fmt"
	"sync"
	"testing"
)

// mutexWRR is the baseline for the round-robin step: nginx's smooth
// weighted round-robin as nginx runs it, current weights updated under a
// lock on every pick. It exists only to compare with the lock-free walk of
// a precomputed cycle; the package does not use it.
type mutexWRR struct {
	mu      sync.Mutex
	weight  []int64
	current []int64 // guarded by mu
	total   int64
}

func (w *mutexWRR) pick() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := 0
	for i := range w.weight {
		w.current[i] += w.weight[i]
		if w.current[i] > w.current[best] {
			best = i
		}
	}
	w.current[best] -= w.total
	return best
}

// BenchmarkRoundRobinStep compares one smooth-WRR step, lock-free (an
// atomic counter over the precomputed cycle) against the mutex baseline,
// from parallel goroutines, with weights that share no divisor.
func BenchmarkRoundRobinStep(b *testing.B) {
	for _, n := range []int{3, 30, 300} {
		weights := make([]uint32, n)
		for i := range weights {
			weights[i] = uint32(90 + i%17)
		}
		b.Run(fmt.Sprintf("lockfree/n=%d", n), func(b *testing.B) {
			p := &picker{policy: RoundRobin, b: &Balancer{cfg: Config{}.withDefaults()}}
			pl := &pool{members: make([]int32, n), weights: weights, seq: smoothSequence(weights, maxSequence), next: new(paddedCounter)}
			for i := range pl.members {
				pl.members[i] = int32(i)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = p.pickRoundRobin(pl, nil)
				}
			})
		})
		b.Run(fmt.Sprintf("mutex/n=%d", n), func(b *testing.B) {
			w := &mutexWRR{weight: make([]int64, n), current: make([]int64, n)}
			for i, x := range weights {
				w.weight[i] = int64(x)
				w.total += int64(x)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = w.pick()
				}
			})
		})
	}
}
