package etcdlock_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

// ttl is the shortest lease the test cluster grants (1.5 election timeouts
// rounded up to a second, see etcdtest.Config.TickMs).
const ttl = time.Second

func newSession(t *testing.T, cli *clientv3.Client) *etcdlock.Session {
	t.Helper()
	s, err := etcdlock.NewSession(t.Context(), cli, etcdlock.WithTTL(ttl))
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// queueLen counts the entries (holder and waiters) under a mutex key.
func queueLen(t *testing.T, cli *clientv3.Client, key string) int64 {
	t.Helper()
	resp, err := cli.Get(t.Context(), key+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatalf("count queue: %v", err)
	}
	return resp.Count
}

// waitQueueLen polls until the queue under key has n entries.
func waitQueueLen(t *testing.T, cli *clientv3.Client, key string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for queueLen(t, cli, key) != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue %q: %d entries after 10s, want %d", key, queueLen(t, cli, key), n)
		}
		time.Sleep(5 * time.Millisecond) // polling an external system, bounded by the deadline
	}
}

func TestTokensGrowStrictlyAcrossGrants(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	var last lock.Token
	for i := range 5 {
		s := newSession(t, cli)
		h, err := etcdlock.NewMutex(s, "/t/tokens", fmt.Sprint(i)).Lock(ctx)
		if err != nil {
			t.Fatalf("grant %d: Lock: %v", i, err)
		}
		if h.Token() <= last {
			t.Fatalf("grant %d: token %d, want > previous %d", i, h.Token(), last)
		}
		last = h.Token()
		if err := h.Unlock(ctx); err != nil {
			t.Fatalf("grant %d: Unlock: %v", i, err)
		}
	}
}

func TestTryLock(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	a := etcdlock.NewMutex(newSession(t, cli), "/t/try", "a")
	b := etcdlock.NewMutex(newSession(t, cli), "/t/try", "b")

	ha, err := a.TryLock(ctx)
	if err != nil {
		t.Fatalf("TryLock on a free lock: %v", err)
	}
	if _, err := b.TryLock(ctx); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("TryLock on a held lock: err = %v, want ErrLocked", err)
	}
	if n := queueLen(t, cli, "/t/try"); n != 1 {
		t.Fatalf("after a refused TryLock the queue has %d entries, want 1 (the refused one cleans up)", n)
	}
	if err := ha.Unlock(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	hb, err := b.TryLock(ctx)
	if err != nil {
		t.Fatalf("TryLock after release: %v", err)
	}
	if hb.Token() <= ha.Token() {
		t.Fatalf("token after release = %d, want > %d", hb.Token(), ha.Token())
	}
}

func TestWaitersAcquireInArrivalOrder(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 30*time.Second)
	const key = "/t/fifo"
	holder, err := etcdlock.NewMutex(newSession(t, cli), key, "holder").Lock(ctx)
	if err != nil {
		t.Fatalf("holder Lock: %v", err)
	}
	const waiters = 4
	order := make(chan int, waiters)
	errs := make(chan error, waiters)
	for i := range waiters {
		m := etcdlock.NewMutex(newSession(t, cli), key, fmt.Sprint(i))
		go func() {
			h, err := m.Lock(ctx)
			if err != nil {
				errs <- err
				return
			}
			order <- i
			errs <- h.Unlock(ctx)
		}()
		waitQueueLen(t, cli, key, int64(i+2)) // queued before the next one starts
	}
	if err := holder.Unlock(ctx); err != nil {
		t.Fatalf("holder Unlock: %v", err)
	}
	for range waiters {
		if err := <-errs; err != nil {
			t.Fatalf("waiter: %v", err)
		}
	}
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("waiter %d acquired in position %d, want arrival order", got, want)
		}
		want++
	}
}

func TestRetriedAcquireFindsItsOwnKey(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	const key = "/t/retry"
	holder, err := etcdlock.NewMutex(newSession(t, cli), key, "holder").Lock(ctx)
	if err != nil {
		t.Fatalf("holder Lock: %v", err)
	}
	// An earlier attempt whose response was lost left its entry behind:
	// the same session's key, created before a second waiter arrived.
	s := newSession(t, cli)
	lost, err := cli.Put(ctx, fmt.Sprintf("%s/%x", key, int64(s.Lease())), "retry", clientv3.WithLease(s.Lease()))
	if err != nil {
		t.Fatalf("put lost entry: %v", err)
	}
	late := etcdlock.NewMutex(newSession(t, cli), key, "late")
	lateDone := make(chan *etcdlock.Held, 1)
	go func() {
		h, _ := late.Lock(ctx)
		lateDone <- h
	}()
	waitQueueLen(t, cli, key, 3)

	got := make(chan *etcdlock.Held, 1)
	go func() {
		h, err := etcdlock.NewMutex(s, key, "retry").Lock(ctx)
		if err != nil {
			t.Errorf("retried Lock: %v", err)
		}
		got <- h
	}()
	if err := holder.Unlock(ctx); err != nil {
		t.Fatalf("holder Unlock: %v", err)
	}
	h := <-got
	if h == nil {
		return
	}
	if h.Token() != lock.Token(lost.Header.Revision) {
		t.Fatalf("retried acquire: token %d, want the lost attempt's %d", h.Token(), lost.Header.Revision)
	}
	select {
	case lh := <-lateDone:
		t.Fatalf("a later waiter acquired (%v) while the retried one held the lock", lh)
	default:
	}
	if err := h.Unlock(ctx); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if lh := <-lateDone; lh == nil || lh.Token() <= h.Token() {
		t.Fatalf("late waiter after release: %v, want a token above %d", lh, h.Token())
	} else if err := lh.Unlock(ctx); err != nil {
		t.Fatalf("late Unlock: %v", err)
	}
}

func TestUnlockOutcomes(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)

	t.Run("a second unlock is not the holder", func(t *testing.T) {
		h, err := etcdlock.NewMutex(newSession(t, cli), "/t/unlock-twice", "").Lock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Unlock(ctx); err != nil {
			t.Fatalf("first Unlock: %v", err)
		}
		if err := h.Unlock(ctx); !errors.Is(err, lock.ErrNotHolder) {
			t.Fatalf("second Unlock: err = %v, want ErrNotHolder", err)
		}
	})
	t.Run("unlock after the lease ran out reports the lock lost", func(t *testing.T) {
		s := newSession(t, cli)
		h, err := etcdlock.NewMutex(s, "/t/unlock-lost", "").Lock(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Revoke(ctx, s.Lease()); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if err := h.Unlock(ctx); !errors.Is(err, lock.ErrLost) {
			t.Fatalf("Unlock after revoke: err = %v, want ErrLost", err)
		}
	})
}

func TestHeldContextEndsWhenLeaseIsLost(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	s := newSession(t, cli)
	h, err := etcdlock.NewMutex(s, "/t/lost-ctx", "").Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Revoke(ctx, s.Lease()); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	select {
	case <-h.Context().Done():
	case <-time.After(3 * ttl):
		t.Fatalf("held context still live %v after the lease was revoked", 3*ttl)
	}
	if _, err := etcdlock.NewMutex(s, "/t/lost-ctx", "").Lock(ctx); !errors.Is(err, lock.ErrSessionExpired) {
		t.Fatalf("Lock on an expired session: err = %v, want ErrSessionExpired", err)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	const key = "/t/cancel"
	h, err := etcdlock.NewMutex(newSession(t, cli), key, "").Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := etcdlock.NewMutex(newSession(t, cli), key, "").Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock past its deadline: err = %v, want DeadlineExceeded", err)
	}
	if n := queueLen(t, cli, key); n != 1 {
		t.Fatalf("queue after a cancelled waiter: %d entries, want 1", n)
	}
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestReacquireAfterHolderCrash measures the failover target: a holder that
// stops keeping its lease alive (a crash: no revoke) is replaced within
// TTL + 1 s.
func TestReacquireAfterHolderCrash(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	const key = "/t/crash"
	crashed := newSession(t, cli)
	if _, err := etcdlock.NewMutex(crashed, key, "crashed").Lock(ctx); err != nil {
		t.Fatal(err)
	}
	w := etcdlock.NewMutex(newSession(t, cli), key, "next")
	start := time.Now()
	crashed.Orphan()
	h, err := w.Lock(ctx)
	if err != nil {
		t.Fatalf("next Lock: %v", err)
	}
	if took := time.Since(start); took > ttl+time.Second {
		t.Fatalf("re-acquisition after crash took %v, want <= TTL+1s = %v", took, ttl+time.Second)
	} else {
		t.Logf("re-acquisition after holder crash: %v (TTL %v)", took, ttl)
	}
	h.Unlock(ctx)
}

// TestSessionWithLeaseFindsTheLockAgain: a process that restarts and keeps
// its old lease alive (WithLease) gets its lock back, same token, instead of
// queueing behind itself.
func TestSessionWithLeaseFindsTheLockAgain(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	s1, err := etcdlock.NewSession(ctx, cli, etcdlock.WithTTL(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	h1, err := etcdlock.NewMutex(s1, "/t/relive", "p").Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s1.Orphan() // the process exits without revoking
	s2, err := etcdlock.NewSession(ctx, cli, etcdlock.WithLease(s1.Lease()), etcdlock.WithTTL(10*time.Second))
	if err != nil {
		t.Fatalf("NewSession(WithLease): %v", err)
	}
	defer s2.Close()
	h2, err := etcdlock.NewMutex(s2, "/t/relive", "p").TryLock(ctx)
	if err != nil {
		t.Fatalf("TryLock with the old lease: %v", err)
	}
	if h2.Token() != h1.Token() {
		t.Fatalf("token after restart = %d, want the original %d", h2.Token(), h1.Token())
	}
	if err := h2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}
