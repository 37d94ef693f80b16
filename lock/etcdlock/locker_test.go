package etcdlock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

func TestLockerCompatibilityInterface(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	a := etcdlock.NewLocker(cli, "/t/compat")
	b := etcdlock.NewLocker(cli, "/t/compat/")
	t.Cleanup(func() { a.Close(); b.Close() })

	tok, err := a.Lock(ctx, "job", "host-a", ttl)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if again, err := a.Lock(ctx, "job", "host-a", ttl); err != nil || again != tok {
		t.Fatalf("Lock again by the same holder = %d, %v; want the same token %d", again, err, tok)
	}
	h, ok, err := b.IsLocked(ctx, "job")
	if err != nil || !ok {
		t.Fatalf("IsLocked = %v, %v, %v; want held", h, ok, err)
	}
	if want := (lock.Holder{Key: "job", Value: "host-a", Token: tok}); h != want {
		t.Fatalf("IsLocked holder = %+v, want %+v", h, want)
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "job", "host-b", ttl); !errors.Is(err, lock.ErrLockTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a held key past the deadline: err = %v, want ErrLockTimeout and DeadlineExceeded", err)
	}
	if err := b.Unlock(ctx, "job", "host-b"); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("Unlock with another holder value: err = %v, want ErrNotHolder", err)
	}
	if err := a.Unlock(ctx, "job", "host-a"); err != nil {
		t.Fatalf("Unlock by the holder: %v", err)
	}
	if _, ok, err := b.IsLocked(ctx, "job"); ok || err != nil {
		t.Fatalf("IsLocked after Unlock = held %v, err %v; want free", ok, err)
	}
	if err := a.Unlock(ctx, "job", "host-a"); !errors.Is(err, lock.ErrNotHolder) {
		t.Fatalf("Unlock of a free key: err = %v, want ErrNotHolder", err)
	}
}

func TestLockerReleasesAStuckLockByHolderValue(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)
	crashed := etcdlock.NewLocker(cli, "/t/ops")
	operator := etcdlock.NewLocker(cli, "/t/ops")
	t.Cleanup(func() { crashed.Close(); operator.Close() })
	if _, err := crashed.Lock(ctx, "migrate", "host-a/41", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := operator.Unlock(ctx, "migrate", "host-a/41"); err != nil {
		t.Fatalf("operator Unlock by holder value: %v", err)
	}
	if _, ok, _ := operator.IsLocked(ctx, "migrate"); ok {
		t.Fatalf("IsLocked after the operator's Unlock = held, want free")
	}
}

func TestLockerRejectsAnEmptyKey(t *testing.T) {
	l := etcdlock.NewLocker(cluster.Client(t), "/t/empty")
	if _, err := l.Lock(t.Context(), "", "v", ttl); err == nil {
		t.Fatalf("Lock with an empty key: nil error, want one")
	}
}
