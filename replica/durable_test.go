package replica

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/duohuo/duohuo/crdt"
)

func TestWatermark(t *testing.T) {
	w := newWatermark()
	if w.durable() != 0 || w.count() != 0 {
		t.Fatalf("fresh watermark: durable %d, %d pending", w.durable(), w.count())
	}
	a, b, c := w.issue(), w.issue(), w.issue()
	if w.durable() != 0 {
		t.Fatalf("durable() = %d with 1..3 pending, want 0", w.durable())
	}
	w.done(b) // out of order: 1 still pending
	if w.durable() != 0 {
		t.Fatalf("durable() = %d with 1 and 3 pending, want 0", w.durable())
	}
	w.done(a)
	if w.durable() != 2 {
		t.Fatalf("durable() = %d with 3 pending, want 2", w.durable())
	}
	ch := w.advanced()
	d := w.issue()
	select {
	case <-ch:
		t.Fatal("advanced() closed by an issue, which makes nothing durable")
	default:
	}
	w.doneThrough(c) // a checkpoint covering 1..3
	select {
	case <-ch:
	default:
		t.Fatal("advanced() not closed after 3 became durable")
	}
	if w.durable() != 3 || w.count() != 1 {
		t.Fatalf("durable() = %d, %d pending; want 3 and only 4 pending", w.durable(), w.count())
	}
	w.done(d)
	if w.durable() != 4 || w.count() != 0 {
		t.Fatalf("durable() = %d, %d pending; want 4 and none pending", w.durable(), w.count())
	}
}

// openPair opens two stores on loopback, b joining a, with anti-entropy
// every 20ms; hook (if not nil) holds a's commits.
func openPair(t *testing.T, hook func() error, edit ...func(*Config)) (a, b *Store) {
	t.Helper()
	cfg := Config{
		Name: "a", Dir: t.TempDir(), BindAddr: "127.0.0.1",
		Network: NetworkLocal, AntiEntropyInterval: 20 * time.Millisecond,
		Registerer: prometheus.NewRegistry(), hookCommit: hook,
	}
	for _, e := range edit {
		e(&cfg)
	}
	a, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cfg = Config{
		Name: "b", Dir: t.TempDir(), BindAddr: "127.0.0.1", Join: []string{a.Addr()},
		Network: NetworkLocal, AntiEntropyInterval: 20 * time.Millisecond,
	}
	if b, err = Open(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	waitUntil(t, "both sites to see each other", func() bool { return len(a.Members()) == 2 && len(b.Members()) == 2 })
	return a, b
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
}

func hasKey(s *Store, obj, key string) bool {
	ok := false
	_ = s.Read(obj, func(o crdt.Object) error { _, ok = o.(*crdt.ORMap).Get(key); return nil })
	return ok
}

// TestStateWithAWriteNotYetDurableStaysHome holds a local write between
// applied and fsynced, and checks that anti-entropy, which runs every 20ms
// and sees the two sites differ, sends the object only once the write is
// durable: what a crash could make a site forget never reaches another.
func TestStateWithAWriteNotYetDurableStaysHome(t *testing.T) {
	var holding atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	a, b := openPair(t, func() error {
		if holding.Load() {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the stores close, should the test fail
	ctx := context.Background()
	put := func(k string) error {
		return a.Update(ctx, "kv", func(tx *Txn) error { tx.Put(k, []byte(k)); return nil })
	}
	if err := put("durable"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first write on b", func() bool { return hasKey(b, "kv", "durable") })

	holding.Store(true)
	done := make(chan error, 1)
	go func() { done <- put("held") }()
	<-entered
	holding.Store(false)
	if !hasKey(a, "kv", "held") {
		t.Fatal("the held write is not applied in memory on a")
	}
	transfers := func() float64 { return testutil.ToFloat64(a.metrics.transfers) }
	start := transfers()
	waitUntil(t, "a to start sending its state of kv to b", func() bool { return transfers() > start })
	rounds := testutil.ToFloat64(a.metrics.rounds)
	waitUntil(t, "ten more anti-entropy rounds on a", func() bool { return testutil.ToFloat64(a.metrics.rounds) >= rounds+10 })
	if hasKey(b, "kv", "held") {
		t.Fatal("b received a write that a had not made durable")
	}
	if a.Digest() == b.Digest() {
		t.Fatal("the sites converged while a's write was held")
	}
	unblock()
	if err := <-done; err != nil {
		t.Fatalf("held Update = %v", err)
	}
	waitUntil(t, "the held write on b once durable", func() bool { return hasKey(b, "kv", "held") })
}

// TestWriteWhoseCommitFailedStaysHomeUntilCheckpointed fails one commit,
// as a disk error would, and the checkpoints after it for a while: the
// Update reports the error, the write stays applied in memory (outcome
// unknown), and the site does not send it to another while no checkpoint
// has made it durable — for ten anti-entropy rounds — then does once the
// committer's retried checkpoint succeeds.
func TestWriteWhoseCommitFailedStaysHomeUntilCheckpointed(t *testing.T) {
	var failCommit, failCheckpoints atomic.Bool
	a, b := openPair(t, func() error {
		if failCommit.CompareAndSwap(true, false) {
			return errors.New("injected disk error")
		}
		return nil
	}, func(c *Config) {
		c.hookCheckpoint = func() error {
			if failCheckpoints.Load() {
				return errors.New("injected disk error")
			}
			return nil
		}
	})
	ctx := context.Background()
	failCommit.Store(true)
	failCheckpoints.Store(true)
	err := a.Update(ctx, "kv", func(tx *Txn) error { tx.Put("unsure", []byte("1")); return nil })
	if err == nil {
		t.Fatal("Update with a failed commit = nil, want the error")
	}
	if !hasKey(a, "kv", "unsure") {
		t.Fatal("the write whose commit failed is not applied in memory")
	}
	rounds := testutil.ToFloat64(a.metrics.rounds)
	waitUntil(t, "ten anti-entropy rounds on a", func() bool { return testutil.ToFloat64(a.metrics.rounds) >= rounds+10 })
	if hasKey(b, "kv", "unsure") {
		t.Fatal("b received a write that a could not make durable")
	}
	failCheckpoints.Store(false)
	waitUntil(t, "the write on b once checkpointed", func() bool { return hasKey(b, "kv", "unsure") })
	if a.wm.count() > 0 {
		t.Fatal("changes still pending after the checkpoint")
	}
	if n := testutil.ToFloat64(a.metrics.diskErrors.WithLabelValues("commit")); n != 1 {
		t.Fatalf("duohuo_replica_disk_errors_total{op=commit} = %v, want 1", n)
	}
	if n := testutil.ToFloat64(a.metrics.diskErrors.WithLabelValues("checkpoint")); n < 1 {
		t.Fatalf("duohuo_replica_disk_errors_total{op=checkpoint} = %v, want at least 1", n)
	}
}
