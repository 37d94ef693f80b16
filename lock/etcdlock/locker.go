package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
)

// Locker implements [lock.Locker], the unified lock interface, on
// Session and Mutex: each Lock call gets its own session with the requested
// TTL (one extra grant RPC), and Unlock releases the lock and revokes that
// session. Locks are named keys under a prefix.
//
// A Locker is safe for concurrent use. Close releases every lock it holds.
type Locker struct {
	cli    *clientv3.Client
	prefix string

	mu   sync.Mutex // guards held
	held map[holderID]*heldEntry
}

type holderID struct{ key, value string }

type heldEntry struct {
	s *Session
	h *Held
}

var _ lock.Locker = (*Locker)(nil)

// NewLocker returns a Locker whose lock keys live under prefix (e.g.
// "/duohuo/locks/").
func NewLocker(cli *clientv3.Client, prefix string) *Locker {
	return &Locker{cli: cli, prefix: strings.TrimSuffix(prefix, "/") + "/", held: map[holderID]*heldEntry{}}
}

func (l *Locker) mutexKey(key string) string { return l.prefix + key }

// Lock blocks until key is held for value with a lease of ttl (zero means
// DefaultTTL) and returns the fencing token. If this Locker already holds key
// for value it returns the same token. If ctx ends first the error wraps
// [lock.ErrLockTimeout] and ctx's error.
func (l *Locker) Lock(ctx context.Context, key, value string, ttl time.Duration) (lock.Token, error) {
	if key == "" {
		return 0, errors.New("lock: empty key")
	}
	id := holderID{key, value}
	l.mu.Lock()
	e, ok := l.held[id]
	l.mu.Unlock()
	if ok && e.h.Context().Err() == nil {
		return e.h.Token(), nil
	}
	s, err := NewSession(ctx, l.cli, WithTTL(ttl))
	if err != nil {
		return 0, l.timeout(ctx, key, err)
	}
	h, err := NewMutex(s, l.mutexKey(key), value).Lock(ctx)
	if err != nil {
		s.Close()
		return 0, l.timeout(ctx, key, err)
	}
	l.mu.Lock()
	old := l.held[id]
	l.held[id] = &heldEntry{s: s, h: h}
	l.mu.Unlock()
	if old != nil { // lost earlier; drop its session
		old.s.Close()
	}
	return h.Token(), nil
}

func (l *Locker) timeout(ctx context.Context, key string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("lock %q: %w (%w)", key, lock.ErrLockTimeout, ctx.Err())
	}
	return err
}

// Unlock releases key if it is held for value. A lock held by this Locker is
// released and its session revoked; a lock held elsewhere (another process
// or a restarted one) is released if its holder value equals value, which
// lets an operator release a stuck lock by name. Errors wrap
// [lock.ErrNotHolder] when key is not held for value and [lock.ErrLost] when
// this Locker's lease ran out before Unlock.
func (l *Locker) Unlock(ctx context.Context, key, value string) error {
	id := holderID{key, value}
	l.mu.Lock()
	e, ok := l.held[id]
	delete(l.held, id)
	l.mu.Unlock()
	if ok {
		err := e.h.Unlock(ctx)
		if cerr := e.s.Close(); err == nil && cerr != nil {
			err = cerr
		}
		return err
	}
	// Held elsewhere: delete the holder's entry if its value is value, in a
	// transaction that also checks it is still the entry we read.
	resp, err := l.cli.Get(ctx, l.mutexKey(key)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return fmt.Errorf("unlock %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != value {
		return fmt.Errorf("unlock %q for %q: %w", key, value, lock.ErrNotHolder)
	}
	rev := resp.Kvs[0].CreateRevision
	k := string(resp.Kvs[0].Key)
	tr, err := l.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", rev),
			clientv3.Compare(clientv3.Value(k), "=", value)).
		Then(clientv3.OpDelete(k)).
		Commit()
	if err != nil {
		return fmt.Errorf("unlock %q: %w", key, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("unlock %q for %q: %w", key, value, lock.ErrNotHolder)
	}
	return nil
}

// IsLocked reports the holder of key: the queue entry with the lowest
// creation revision. Waiters behind it are not reported.
func (l *Locker) IsLocked(ctx context.Context, key string) (lock.Holder, bool, error) {
	resp, err := l.cli.Get(ctx, l.mutexKey(key)+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return lock.Holder{}, false, fmt.Errorf("is locked %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return lock.Holder{}, false, nil
	}
	kv := resp.Kvs[0]
	return lock.Holder{Key: key, Value: string(kv.Value), Token: lock.Token(kv.CreateRevision)}, true, nil
}

// Close releases every lock this Locker holds (revoking their sessions) and
// returns the first error.
func (l *Locker) Close() error {
	l.mu.Lock()
	held := l.held
	l.held = map[holderID]*heldEntry{}
	l.mu.Unlock()
	var errs []error
	for _, e := range held {
		errs = append(errs, e.s.Close())
	}
	return errors.Join(errs...)
}
