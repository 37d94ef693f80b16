package etcdlock_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

func TestFenceTxn(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 10*time.Second)
	f := etcdlock.Fence{KV: cli, Key: "/t/fence/token"}
	steps := []struct {
		name  string
		token lock.Token
		want  error
	}{
		{"the first token is admitted", 10, nil},
		{"the same token is admitted again", 10, nil},
		{"a higher token is admitted", 11, nil},
		{"a lower token is refused", 10, lock.ErrStaleToken},
		{"a token with more digits still compares as a number", 100, nil},
		{"one digit fewer is lower, not higher", 99, lock.ErrStaleToken},
		{"zero is never a granted token", 0, lock.ErrStaleToken},
	}
	for _, st := range steps {
		_, err := f.Txn(ctx, st.token, clientv3.OpPut("/t/fence/data", st.name))
		if !errors.Is(err, st.want) {
			t.Fatalf("%s: Txn(%d) err = %v, want %v", st.name, st.token, err, st.want)
		}
	}
	resp, err := cli.Get(ctx, "/t/fence/data")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(resp.Kvs[0].Value), "a token with more digits still compares as a number"; got != want {
		t.Fatalf("data after the steps = %q, want the last admitted write %q", got, want)
	}
}

// pausedHolder takes the lock on key, then, like a process stopped with
// SIGSTOP after it checked that it holds the lock, stops keeping its lease
// alive and blocks until resume is closed; then it makes its write through
// write. It reports the write's error.
func pausedHolder(t *testing.T, cli *clientv3.Client, key string, paused chan<- struct{}, resume <-chan struct{},
	write func(ctx context.Context, h *etcdlock.Held) error) <-chan error {
	t.Helper()
	ctx := ctxTimeout(t, 20*time.Second)
	s, err := etcdlock.NewSession(ctx, cli, etcdlock.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	h, err := etcdlock.NewMutex(s, key, "paused").Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan error, 1)
	go func() {
		defer s.Close()
		s.Orphan() // the whole process stops: so does its keep-alive
		close(paused)
		<-resume
		out <- write(ctx, h)
	}()
	return out
}

func TestPausedHolderWriteIsRejected(t *testing.T) {
	cli := cluster.Client(t)
	ctx := ctxTimeout(t, 20*time.Second)

	// Three ways for the resource to check the token; each must refuse the
	// paused holder once a newer holder has touched the resource.
	var memMu sync.Mutex
	var memFence lock.Fence
	memValue := ""
	resources := []struct {
		name  string
		write func(ctx context.Context, h *etcdlock.Held, v string) error
		read  func(ctx context.Context) string
	}{
		{
			name: "etcd Fence transaction",
			write: func(ctx context.Context, h *etcdlock.Held, v string) error {
				_, err := etcdlock.Fence{KV: cli, Key: "/t/pause/fence"}.Txn(ctx, h.Token(), clientv3.OpPut("/t/pause/fenced", v))
				return err
			},
			read: func(ctx context.Context) string { return get(t, cli, "/t/pause/fenced") },
		},
		{
			name: "IsOwner guard on the write",
			write: func(ctx context.Context, h *etcdlock.Held, v string) error {
				resp, err := cli.Txn(ctx).If(h.IsOwner()).Then(clientv3.OpPut("/t/pause/owned", v)).Commit()
				if err == nil && !resp.Succeeded {
					err = lock.ErrLost
				}
				return err
			},
			read: func(ctx context.Context) string { return get(t, cli, "/t/pause/owned") },
		},
		{
			name: "in-memory store with lock.Fence",
			write: func(_ context.Context, h *etcdlock.Held, v string) error {
				memMu.Lock()
				defer memMu.Unlock()
				if err := memFence.Admit(h.Token()); err != nil {
					return err
				}
				memValue = v
				return nil
			},
			read: func(context.Context) string { memMu.Lock(); defer memMu.Unlock(); return memValue },
		},
	}
	for i, r := range resources {
		t.Run(r.name, func(t *testing.T) {
			key := "/t/pause/lock" + string(rune('a'+i))
			paused, resume := make(chan struct{}), make(chan struct{})
			stale := pausedHolder(t, cli, key, paused, resume, func(ctx context.Context, h *etcdlock.Held) error {
				return r.write(ctx, h, "stale")
			})
			<-paused
			// Another client takes the lock once the paused lease expires,
			// and writes.
			h, err := etcdlock.NewMutex(newSession(t, cli), key, "new").Lock(ctx)
			if err != nil {
				t.Fatalf("new holder Lock: %v", err)
			}
			if err := r.write(ctx, h, "new"); err != nil {
				t.Fatalf("new holder write: %v", err)
			}
			close(resume)
			if err := <-stale; err == nil {
				t.Fatalf("paused holder's write after its lease expired: accepted, want refused")
			} else if !errors.Is(err, lock.ErrStaleToken) && !errors.Is(err, lock.ErrLost) {
				t.Fatalf("paused holder's write: err = %v, want ErrStaleToken or ErrLost", err)
			}
			if got := r.read(ctx); got != "new" {
				t.Fatalf("resource after both writes = %q, want the new holder's %q", got, "new")
			}
			h.Unlock(ctx)
		})
	}
}

func get(t *testing.T, cli *clientv3.Client, key string) string {
	t.Helper()
	resp, err := cli.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}
