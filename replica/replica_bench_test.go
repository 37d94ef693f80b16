package replica_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/gm"
	"github.com/duohuo/duohuo/replica"
	"github.com/duohuo/duohuo/replica/replicatest"
)

// BenchmarkUpdate measures acknowledged (fsynced) local writes: one writer
// pays an fsync per write; many writers share fsyncs (group commit). Each
// runs with values written clear and sealed at rest (SM4-GCM, gm.KeyRing),
// side by side.
func BenchmarkUpdate(b *testing.B) {
	ring, err := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f")
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []int{1, 16} {
		for _, mode := range []struct {
			name   string
			sealer replica.Sealer
		}{{"clear", nil}, {"sm4", ring}} {
			b.Run(fmt.Sprintf("parallelism=%d/at-rest=%s", p, mode.name), func(b *testing.B) {
				s, err := replica.Open(context.Background(), replica.Config{Name: "bench", Dir: b.TempDir(), AtRest: mode.sealer})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				var n atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(p) // p × GOMAXPROCS writers
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k := fmt.Sprintf("key-%d", n.Add(1))
						if err := s.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Put(k, []byte("0123456789abcdef0123456789abcdef")); return nil }); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkReplicationLag makes paced increments at rate writes/s spread
// over 3 sites on loopback, each site to its own counter object (a global
// rate limit's shape), and reports the p50 and p99 time from an increment
// being applied at its origin to it being visible at each other site
// (Watch). It includes the origin's fsync, which precedes sending.
func BenchmarkReplicationLag(b *testing.B) {
	for _, rate := range []int{200, 1000, 10000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			var lags []time.Duration
			var wire, achieved float64
			for b.Loop() {
				l, w, a := measureLag(b, rate, 2*time.Second)
				lags, wire, achieved = append(lags, l...), w, a
			}
			slices.Sort(lags)
			if len(lags) == 0 {
				b.Fatal("no beacon arrived")
			}
			b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(len(lags)), "arrivals")
			b.ReportMetric(wire, "wire-B/write")
			b.ReportMetric(achieved, "writes/s")
		})
	}
}

// measureLag returns the lags, the delta bytes sent per write (to all
// peers together) and the write rate achieved. Each site increments its
// own counter object, lag/site-<i>, as a global rate limit would: the
// count after an increment numbers it, so a watcher elsewhere that sees
// the count go from a to b knows increments a+1..b arrived. Writes are
// paced by a 1ms ticker, rate/1000 per tick above 1,000 writes/s (a Go
// ticker cannot tick every 100µs reliably).
func measureLag(b *testing.B, rate int, d time.Duration) ([]time.Duration, float64, float64) {
	b.Helper()
	c := newClusterTB(b, 3)
	defer c.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := int(d.Seconds() * float64(rate))
	// sent[i][k]: when site i made its k-th increment (UnixNano).
	sent := make([][]atomic.Int64, 3)
	for i := range sent {
		sent[i] = make([]atomic.Int64, n/3+2)
	}
	var mu sync.Mutex
	var lags []time.Duration
	var wg sync.WaitGroup
	for _, s := range c.stores {
		ch := s.Watch(ctx, "lag/")
		wg.Go(func() {
			seen := map[string]int64{}
			for ev := range ch {
				now := time.Now()
				if ev.Key == "lag/"+s.Name() {
					continue
				}
				origin, _ := strconv.Atoi(strings.TrimPrefix(ev.Key, "lag/site-"))
				v := ev.Object.(*crdt.PNCounter).Value()
				mu.Lock()
				for k := seen[ev.Key] + 1; k <= v && k < int64(len(sent[origin])); k++ {
					lags = append(lags, now.Sub(time.Unix(0, sent[origin][k].Load())))
				}
				mu.Unlock()
				seen[ev.Key] = max(seen[ev.Key], v)
			}
		})
	}
	perTick := max(1, rate/1000)
	tick := time.NewTicker(time.Second / time.Duration(rate/perTick))
	var writers sync.WaitGroup
	begin := time.Now()
	for i := range n {
		if i%perTick == 0 {
			<-tick.C
		}
		site := i % 3
		s := c.stores[site]
		writers.Go(func() {
			s.Update(ctx, "lag/"+s.Name(), func(tx *replica.Txn) error {
				var k int64 = 1
				if o := tx.Object(); o != nil {
					k = o.(*crdt.PNCounter).Value() + 1
				}
				if k < int64(len(sent[site])) {
					sent[site][k].Store(time.Now().UnixNano())
				}
				tx.Add(1)
				return nil
			})
		})
	}
	tick.Stop()
	achieved := float64(n) / time.Since(begin).Seconds()
	writers.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := len(lags)
		mu.Unlock()
		if got >= 2*n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a deadline-bounded wait
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return lags, c.counterSum("duohuo_replica_sent_bytes_total", map[string]string{"type": "delta"}) / float64(n), achieved
}

// BenchmarkFullResync measures an empty site joining a site that holds
// 100,000 keys (one KV object), until its digest matches: a full state
// transfer over memberlist's TCP stream.
func BenchmarkFullResync(b *testing.B) {
	const keys = 100_000
	for b.Loop() {
		c := newClusterTB(b, 1)
		fillKeys(b, c.stores[0], "kv", keys, 16)
		start := time.Now()
		joiner := c.add(b)
		c.waitFor("the new site's digest to match", 60*time.Second, func() bool { return joiner.Digest() == c.stores[0].Digest() })
		b.ReportMetric(time.Since(start).Seconds(), "resync-s")
		c.close()
	}
}

// BenchmarkHealAfterPartition cuts one of three sites off, writes 10,000
// deltas (single-key puts) on the majority side, heals, and measures the time
// to identical digests.
func BenchmarkHealAfterPartition(b *testing.B) {
	const deltas = 10_000
	for b.Loop() {
		c := newClusterTB(b, 3)
		c.p.Isolate(c.addrs[2], c.addrs[0], c.addrs[1])
		fillKeys(b, c.stores[0], "kv", deltas, 16)
		c.waitFor("the majority to agree", 60*time.Second, func() bool { return c.stores[0].Digest() == c.stores[1].Digest() })
		start := time.Now()
		c.p.HealAll()
		c.waitFor("identical digests after healing", 60*time.Second, c.converged)
		b.ReportMetric(time.Since(start).Seconds(), "heal-s")
		c.close()
	}
}

// BenchmarkHealAfterPartitionWAN is HealAfterPartition with the defaults
// of `duohuo serve`: the wan preset, its 2s anti-entropy interval and 5s
// probes, and 100 writes on each side. partition=short heals after 10s,
// while the members still count each other alive; partition=dead heals once the
// majority declared the isolated site dead (dead-s: from the cut), so
// that healing needs the joiner. heal-s is from the heal to identical
// digests on every site. The metrics are the last run's; -v logs each.
//
//	go test -run '^$' -bench HealAfterPartitionWAN -benchtime 3x -v ./replica
func BenchmarkHealAfterPartitionWAN(b *testing.B) {
	wan := func(cfg *replica.Config) { cfg.Network, cfg.AntiEntropyInterval = replica.NetworkWAN, 0 }
	for _, dead := range []bool{false, true} {
		name := "partition=short"
		if dead {
			name = "partition=dead"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				c := &cluster{t: b, p: replicatest.NewPartition()}
				for range 3 {
					c.add(b, wan)
				}
				c.waitFor("all members", time.Minute, func() bool {
					return len(c.stores[0].Members()) == 3 && len(c.stores[2].Members()) == 3
				})
				cut := time.Now()
				c.p.Isolate(c.addrs[2], c.addrs[0], c.addrs[1])
				fillKeys(b, c.stores[0], "kv", 100, 4)
				fillKeys(b, c.stores[2], "kv2", 100, 4)
				if !dead {
					// A partition of 10s, well within the suspicion
					// timeout: the writes are older than the two
					// intervals after which anti-entropy sends what a
					// peer lacks, as after any partition but the
					// briefest.
					time.Sleep(time.Until(cut.Add(10 * time.Second))) // the partition's length, not a wait for an event
				}
				if dead {
					c.waitFor("the majority to declare site-2 dead", 3*time.Minute, func() bool {
						return len(c.stores[0].Members()) == 2 && len(c.stores[1].Members()) == 2
					})
					b.ReportMetric(time.Since(cut).Seconds(), "dead-s")
					b.Logf("declared dead %v after the cut", time.Since(cut).Round(100*time.Millisecond))
				}
				start := time.Now()
				c.p.HealAll()
				c.waitFor("identical digests after healing", 3*time.Minute, c.converged)
				b.ReportMetric(time.Since(start).Seconds(), "heal-s")
				b.Logf("identical digests %v after the heal", time.Since(start).Round(10*time.Millisecond))
				c.close()
			}
		})
	}
}

// fillKeys writes n single-key puts to object obj from 16 concurrent writers.
func fillKeys(b *testing.B, s *replica.Store, obj string, n, writers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				k := fmt.Sprintf("key-%012d", i)
				if err := s.Update(context.Background(), obj, func(tx *replica.Txn) error { tx.Put(k, []byte("0123456789abcdef0123456789abcdef")); return nil }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSteadyWireOneObject measures every byte replication sends —
// deltas, anti-entropy summaries and state transfers — while three sites
// write 1,000 puts/s in total into one KV object that already holds 10,000
// keys (anti-entropy every 200ms): the realistic case of one busy
// namespace. rule=context is the store's anti-entropy; rule=digest sends
// every object whose digest differs, as the store did before, for a side
// by side comparison in one run.
func BenchmarkSteadyWireOneObject(b *testing.B) {
	for _, rule := range []string{"context", "digest"} {
		b.Run("rule="+rule, func(b *testing.B) {
			var edit []func(*replica.Config)
			if rule == "digest" {
				edit = append(edit, replica.DigestOnlyAntiEntropy)
			}
			for b.Loop() {
				steadyWire(b, edit...)
			}
		})
	}
}

func steadyWire(b *testing.B, edit ...func(*replica.Config)) {
	const keys, rate, d = 10_000, 1000, 3 * time.Second
	c := &cluster{t: b, p: replicatest.NewPartition()}
	defer c.close()
	for range 3 {
		c.add(b, edit...)
	}
	c.waitFor("all members to see each other", 10*time.Second, func() bool {
		for _, s := range c.stores {
			if len(s.Members()) != 3 {
				return false
			}
		}
		return true
	})
	fillKeys(b, c.stores[0], "kv", keys, 16)
	c.waitFor("the fill everywhere", 60*time.Second, c.converged)
	byType := func() map[string]float64 {
		m := map[string]float64{}
		for _, typ := range []string{"delta", "buckets", "summary", "state", "ack"} {
			m[typ] = c.counterSum("duohuo_replica_sent_bytes_total", map[string]string{"type": typ})
		}
		return m
	}
	before := byType()
	n := int(d.Seconds() * rate)
	tick := time.NewTicker(time.Second / rate)
	var writers sync.WaitGroup
	for i := range n {
		<-tick.C
		s := c.stores[i%3]
		k := fmt.Sprintf("key-%012d", 1+i*7919%keys)
		writers.Go(func() {
			s.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Put(k, []byte("fedcba9876543210fedcba9876543210")); return nil })
		})
	}
	tick.Stop()
	writers.Wait()
	c.waitFor("convergence after the writes", 60*time.Second, c.converged)
	after := byType()
	total := 0.0
	for typ, v := range after {
		per := (v - before[typ]) / float64(n)
		total += per
		b.ReportMetric(per, typ+"-B/write")
	}
	b.ReportMetric(total, "wire-B/write")
}

// BenchmarkIdleAntiEntropy measures what anti-entropy costs between two
// sites that hold the same 10,000 small objects and write nothing, over
// ten rounds (anti-entropy every 200ms): rule=buckets sends 64 bucket digests per
// round; rule=summary sends every object's summary item, as before, side
// by side.
func BenchmarkIdleAntiEntropy(b *testing.B) {
	for _, rule := range []string{"buckets", "summary"} {
		b.Run("rule="+rule, func(b *testing.B) {
			var edit []func(*replica.Config)
			if rule == "summary" {
				edit = append(edit, replica.FullSummaryAntiEntropy)
			}
			for b.Loop() {
				c := &cluster{t: b, p: replicatest.NewPartition()}
				for range 2 {
					c.add(b, edit...)
				}
				c.waitFor("both members", 10*time.Second, func() bool { return len(c.stores[1].Members()) == 2 })
				var next atomic.Int64
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						for i := next.Add(1); i <= 10_000; i = next.Add(1) {
							k := fmt.Sprintf("limit/%d", i)
							c.stores[0].Update(context.Background(), k, func(tx *replica.Txn) error { tx.Add(1); return nil })
						}
					})
				}
				wg.Wait()
				c.waitFor("both sites equal", 60*time.Second, c.converged)
				sent := func() float64 { return c.counterSum("duohuo_replica_sent_bytes_total", nil) }
				rounds := func() float64 { return c.counterSum("duohuo_replica_antientropy_rounds_total", nil) }
				transfers := func() float64 { return c.counterSum("duohuo_replica_state_transfers_total", nil) }
				// Idle from here: no state transfer in four rounds.
				t0, r := transfers(), rounds()
				c.waitFor("four rounds without a state transfer", 30*time.Second, func() bool {
					if transfers() != t0 {
						t0, r = transfers(), rounds()
					}
					return rounds() >= r+4
				})
				s0, r0 := sent(), rounds()
				c.waitFor("ten idle rounds", 30*time.Second, func() bool { return rounds() >= r0+10 })
				b.ReportMetric((sent()-s0)/(rounds()-r0), "B/round")
				c.close()
			}
		})
	}
}
