package balancer_test

import (
	"fmt"
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
						p.Done(time.Millisecond, balancer.Succeeded)
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
					p.Done(time.Millisecond, balancer.Succeeded)
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

// BenchmarkBaselineClockRead is what one clock read costs on this machine:
// every attempt makes one (Pick), so it is the floor of BenchmarkPick.
func BenchmarkBaselineClockRead(b *testing.B) {
	epoch := time.Now()
	var sink time.Duration
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var d time.Duration
		for pb.Next() {
			d += time.Since(epoch)
		}
		sink += d
	})
	_ = sink
}

// BenchmarkDone measures an attempt's balancer cost by how it ended: Pick
// on one instance (the same in every sub-benchmark), then Done with each
// Result, serially and from parallel goroutines (which contend on the
// instance's statistics).
func BenchmarkDone(b *testing.B) {
	for _, r := range []balancer.Result{balancer.Succeeded, balancer.Failed, balancer.Neutral} {
		b.Run(r.String(), func(b *testing.B) {
			bal := newBalancer(b, balancer.Config{Local: local}, []balancer.Endpoint{endpoint(1, local, true, 100)})
			b.ReportAllocs()
			for b.Loop() {
				p, err := bal.Pick(nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				p.Done(time.Millisecond, r)
			}
		})
		b.Run(r.String()+"/parallel", func(b *testing.B) {
			bal := newBalancer(b, balancer.Config{Local: local}, []balancer.Endpoint{endpoint(1, local, true, 100)})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := bal.Pick(nil, nil)
					if err != nil {
						b.Error(err)
						return
					}
					p.Done(time.Millisecond, r)
				}
			})
		})
	}
}
