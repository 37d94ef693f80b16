package etcdlock_test

import (
	"slices"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/duohuo/duohuo/lock/etcdlock"
)

// BenchmarkUncontended compares one uncontended acquire+release of this
// package's Mutex with etcd's concurrency.Mutex on the same cluster, client
// and kind of session. The two alternate within one loop, so that both see
// the same machine noise (a shared CI box swings by several times); each
// iteration does one pair of each. It reports the p50 and p99 of each in
// microseconds and their ratios (etcdlock / concurrency).
//
//	go test -run '^$' -bench Uncontended -benchtime 2000x ./lock/etcdlock/
func BenchmarkUncontended(b *testing.B) {
	cli, err := cluster.NewClient()
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	ctx := b.Context()

	s, err := etcdlock.NewSession(ctx, cli, etcdlock.WithTTL(10*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ours := etcdlock.NewMutex(s, "/bench/etcdlock", "bench")
	rs, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	raw := concurrency.NewMutex(rs, "/bench/raw")

	var oursLat, rawLat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		h, err := ours.Lock(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
		oursLat = append(oursLat, time.Since(start))

		start = time.Now()
		if err := raw.Lock(ctx); err != nil {
			b.Fatal(err)
		}
		if err := raw.Unlock(ctx); err != nil {
			b.Fatal(err)
		}
		rawLat = append(rawLat, time.Since(start))
	}
	o50, o99 := percentiles(oursLat)
	r50, r99 := percentiles(rawLat)
	b.ReportMetric(o50, "etcdlock-p50-µs")
	b.ReportMetric(o99, "etcdlock-p99-µs")
	b.ReportMetric(r50, "concurrency-p50-µs")
	b.ReportMetric(r99, "concurrency-p99-µs")
	b.ReportMetric(o50/r50, "p50-ratio")
	b.ReportMetric(o99/r99, "p99-ratio")
}

func percentiles(lat []time.Duration) (p50, p99 float64) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	return at(0.50), at(0.99)
}
