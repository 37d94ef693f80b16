package discovery_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/duohuo/duohuo/discovery"
)

// instances returns n instances at 10.x.y.z:8080 starting at index from.
func instances(from, n int, weight uint32) []discovery.Instance {
	out := make([]discovery.Instance, n)
	for i := range out {
		k := from + i
		out[i] = discovery.Instance{
			Addr:     netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)}), 8080),
			Weight:   weight,
			Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "a"},
			Labels:   map[string]string{"version": "v1"},
		}
	}
	return out
}

// BenchmarkAggregatorMerge measures one accepted report of 1,000 instances
// from the first of three sources, which overlap by half: validation, copy,
// merge with de-duplication of 2,000 instances, and publication.
func BenchmarkAggregatorMerge1kFrom3Sources(b *testing.B) {
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger})
	defer a.Close()
	srcs := startB(b, a,
		report{"api": instances(0, 1000, 100)},
		report{"api": instances(500, 1000, 100)},
		report{"api": instances(1000, 1000, 100)},
	)
	reports := [2]report{{"api": instances(0, 1000, 50)}, {"api": instances(0, 1000, 100)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := srcs[0].Set(reports[i%2]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(a.View("api").Instances); n != 2000 {
		b.Fatalf("View(api) has %d instances, want 2000", n)
	}
}

// BenchmarkAggregatorView measures the hot-path read; it must not allocate.
func BenchmarkAggregatorView(b *testing.B) {
	a := discovery.NewAggregator(discovery.AggregatorConfig{Logger: discardLogger})
	defer a.Close()
	rep := report{}
	for _, svc := range []string{"api", "web", "order", "user", "pay"} {
		rep[svc] = instances(0, 100, 100)
	}
	startB(b, a, rep)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if a.View("order") == nil {
				b.Fatal("View(order) = nil")
			}
		}
	})
}

// BenchmarkBaselineRWMutexMapRead is the read that View replaces: a map
// behind a sync.RWMutex, for a side-by-side figure. Readers on many cores
// contend on the RWMutex's reader count; View does not.
func BenchmarkBaselineRWMutexMapRead(b *testing.B) {
	var mu sync.RWMutex
	m := map[string]*discovery.ServiceView{}
	for _, svc := range []string{"api", "web", "order", "user", "pay"} {
		m[svc] = &discovery.ServiceView{Service: svc, Instances: instances(0, 100, 100)}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.RLock()
			v := m["order"]
			mu.RUnlock()
			if v == nil {
				b.Fatal("nil")
			}
		}
	})
}
