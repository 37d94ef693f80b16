package balancer_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/balancer"
)

// benchSet spreads n healthy instances over three tiers (local zone, same
// region, other cloud), as the demo topology does.
func benchSet(n int) []balancer.Endpoint {
	third := n / 3
	return tiered([4]int{third, third, 0, n - 2*third}, [4]int{third, third, 0, n - 2*third})
}

// BenchmarkPick measures one attempt's balancer cost, Pick then Done, from
// parallel goroutines, for each policy and instance count.
func BenchmarkPick(b *testing.B) {
	for _, policy := range policies {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/n=%d", policy, n), func(b *testing.B) {
				bal := newBalancer(b, balancer.Config{Local: local, Policy: policy}, benchSet(n))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						p, err := bal.Pick(nil, nil)
						if err != nil {
							b.Error(err)
							return
						}
						p.Done(time.Millisecond, true)
					}
				})
			})
		}
	}
}

// BenchmarkPickRetry measures a retry's pick: the instance that just failed
// is excluded, and half the local tier is down so traffic spills.
func BenchmarkPickRetry(b *testing.B) {
	eps := tiered([4]int{10, 10, 0, 10}, [4]int{5, 10, 0, 10})
	failed := eps[0].Instance.ID
	exclude := func(id string) bool { return id == failed }
	for _, policy := range policies {
		b.Run(policy.String(), func(b *testing.B) {
			bal := newBalancer(b, balancer.Config{Local: local, Policy: policy}, eps)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := bal.Pick(nil, exclude)
					if err != nil {
						b.Error(err)
						return
					}
					p.Done(time.Millisecond, true)
				}
			})
		})
	}
}

// BenchmarkUpdate measures building and publishing a snapshot (off the
// request path).
func BenchmarkUpdate(b *testing.B) {
	for _, policy := range policies {
		for _, n := range []int{3, 30, 300} {
			b.Run(fmt.Sprintf("%s/n=%d", policy, n), func(b *testing.B) {
				eps := benchSet(n)
				for i := range eps {
					eps[i].Weight = uint32(90 + i%17) // dynamic weights: no common divisor
				}
				bal := newBalancer(b, balancer.Config{Local: local, Policy: policy}, eps)
				b.ReportAllocs()
				for b.Loop() {
					if err := bal.Update(eps); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// mutexWRR is the baseline for RoundRobin: nginx's smooth weighted
// round-robin as nginx runs it, current weights updated under a lock on
// every pick. It exists only to compare with the lock-free precomputed
// cycle; it is not used by the package.
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

func BenchmarkBaselineMutexSmoothWRR(b *testing.B) {
	for _, n := range []int{3, 30, 300} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			w := &mutexWRR{weight: make([]int64, n), current: make([]int64, n)}
			for i := range w.weight {
				w.weight[i] = 100
				w.total += 100
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
