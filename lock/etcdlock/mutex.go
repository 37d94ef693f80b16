package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
)

// Mutex is a distributed mutual-exclusion lock on one etcd key prefix, held
// through a Session. Lock and TryLock return a [Held] lock carrying the
// fencing token.
//
// One session holds one place in a mutex's queue: its key is the prefix plus
// the lease ID, so Lock called again on the same session and key, while the
// lock is held or queued, returns the same place (and token) rather than a
// second one. Use separate sessions for separate holders.
//
// A Mutex is safe for concurrent use; it holds no state between calls.
type Mutex struct {
	s     *Session
	pfx   string // key + "/"
	value string
}

// NewMutex returns a mutex on key (a prefix under which waiters queue) that
// stores value as the holder value, reported by IsLocked (e.g. "host/pid").
func NewMutex(s *Session, key, value string) *Mutex {
	return &Mutex{s: s, pfx: strings.TrimSuffix(key, "/") + "/", value: value}
}

// Key returns the mutex's key prefix, ending in "/".
func (m *Mutex) Key() string { return m.pfx }

// myKey is this session's queue entry: deriving it from the lease lets a
// retried acquire find the entry an earlier, unanswered attempt created.
func (m *Mutex) myKey() string { return fmt.Sprintf("%s%x", m.pfx, int64(m.s.Lease())) }

// Lock blocks until the lock is held, ctx ends, or the session is lost. The
// wait is FIFO by arrival (creation revision) and costs one watch on the
// waiter just ahead. If the wait fails, Lock removes its queue entry.
//
// Errors: [lock.ErrSessionExpired] if the lease is gone; ctx's error if it
// ended first; etcd errors otherwise, all wrapped with the key.
func (m *Mutex) Lock(ctx context.Context) (*Held, error) {
	h, owner, err := m.tryAcquire(ctx)
	if err != nil {
		return nil, err
	}
	if owner {
		return h, nil
	}
	if err := m.waitPredecessors(ctx, h.rev); err != nil {
		m.abandon(ctx, h)
		return nil, fmt.Errorf("lock %q: %w", m.pfx, err)
	}
	// The lease may have run out while we waited: make sure our key is
	// still there before claiming the lock.
	resp, err := m.s.Client().Get(ctx, h.key)
	if err != nil {
		m.abandon(ctx, h)
		return nil, fmt.Errorf("lock %q: check own key: %w", m.pfx, err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != h.rev {
		h.cancel()
		return nil, fmt.Errorf("lock %q: queue entry gone: %w", m.pfx, lock.ErrSessionExpired)
	}
	return h, nil
}

// TryLock takes the lock if nobody holds it and returns at once otherwise,
// with an error wrapping [lock.ErrLocked] that names the holder.
func (m *Mutex) TryLock(ctx context.Context) (*Held, error) {
	h, owner, err := m.tryAcquire(ctx)
	if err != nil {
		return nil, err
	}
	if owner {
		return h, nil
	}
	holder := h.firstHolder
	m.abandon(ctx, h)
	return nil, fmt.Errorf("lock %q: holder %q (token %d): %w", m.pfx, holder.Value, holder.Token, lock.ErrLocked)
}

// tryAcquire puts this session's entry in the queue (or finds it) and reads
// the first entry, in one transaction: the uncontended path is one RPC.
func (m *Mutex) tryAcquire(ctx context.Context) (*Held, bool, error) {
	select {
	case <-m.s.Done():
		return nil, false, fmt.Errorf("lock %q: %w", m.pfx, lock.ErrSessionExpired)
	default:
	}
	key := m.myKey()
	cli := m.s.Client()
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, m.value, clientv3.WithLease(m.s.Lease())),
			clientv3.OpGet(m.pfx, clientv3.WithFirstCreate()...)).
		Else(clientv3.OpGet(key),
			clientv3.OpGet(m.pfx, clientv3.WithFirstCreate()...)).
		Commit()
	if err != nil {
		return nil, false, fmt.Errorf("lock %q: acquire: %w", m.pfx, err)
	}
	rev := resp.Header.Revision
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			// Deleted between the compare and the get: cannot happen inside
			// one transaction, but never index an empty slice.
			return nil, false, fmt.Errorf("lock %q: own key vanished: %w", m.pfx, lock.ErrSessionExpired)
		}
		rev = kvs[0].CreateRevision
	}
	h := &Held{m: m, key: key, rev: rev}
	h.ctx, h.cancel = context.WithCancel(m.s.Context())
	first := resp.Responses[1].GetResponseRange().Kvs
	if len(first) == 0 || first[0].CreateRevision == rev {
		return h, true, nil
	}
	h.firstHolder = lock.Holder{Key: m.pfx, Value: string(first[0].Value), Token: lock.Token(first[0].CreateRevision)}
	return h, false, nil
}

// waitPredecessors waits until every entry created before rev is gone,
// watching one predecessor at a time (the newest older one), as etcd's
// recipe does. It ends early if the session is lost.
func (m *Mutex) waitPredecessors(ctx context.Context, rev int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.s.Context(), cancel)
	defer stop()
	cli := m.s.Client()
	for {
		resp, err := cli.Get(ctx, m.pfx, append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(rev-1))...)
		if err != nil {
			return m.waitErr(ctx, err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		if err := waitDelete(ctx, cli, string(resp.Kvs[0].Key), resp.Header.Revision); err != nil {
			return m.waitErr(ctx, err)
		}
	}
}

// waitErr prefers the session's loss over the cancellation it caused.
func (m *Mutex) waitErr(ctx context.Context, err error) error {
	if m.s.Context().Err() != nil {
		return lock.ErrSessionExpired
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// waitDelete watches key from rev until it is deleted. The watch requires a
// leader, so a member cut off from the quorum ends it with an error instead
// of leaving the waiter blind.
func waitDelete(ctx context.Context, cli *clientv3.Client, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range cli.Watch(wctx, key, clientv3.WithRev(rev)) {
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch closed")
}

// abandon removes a queue entry after a failed or refused acquire, with its
// own deadline (the session TTL) so that a cancelled ctx still cleans up. If
// the delete fails the entry expires with the lease, and a retry on the same
// session finds it again.
func (m *Mutex) abandon(ctx context.Context, h *Held) {
	h.cancel()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.s.TTL())
	defer cancel()
	m.s.Client().Txn(dctx).
		If(clientv3.Compare(clientv3.CreateRevision(h.key), "=", h.rev)).
		Then(clientv3.OpDelete(h.key)).
		Commit()
}

// Held is a lock held through a Mutex. Its token and key never change. It is
// safe for concurrent use; Unlock takes effect once.
type Held struct {
	m           *Mutex
	key         string
	rev         int64
	firstHolder lock.Holder

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // guards released
	released bool
}

// Token returns the fencing token: the creation revision of the holder's
// key, larger than every earlier holder's token on the same mutex key.
func (h *Held) Token() lock.Token { return lock.Token(h.rev) }

// Key returns the holder's etcd key (the mutex prefix plus the lease ID).
func (h *Held) Key() string { return h.key }

// Context returns a context cancelled when the session's lease is lost or
// the lock is unlocked. Loss is detected by the client (no keep-alive answer
// within TTL), which can lag the server's expiry: use it to stop work early,
// and fencing to stay safe.
func (h *Held) Context() context.Context { return h.ctx }

// IsOwner returns a comparison that holds while this lock is held, for
// guarding writes in your own etcd transaction:
//
//	cli.Txn(ctx).If(held.IsOwner()).Then(clientv3.OpPut(k, v)).Commit()
func (h *Held) IsOwner() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(h.key), "=", h.rev)
}

// Unlock releases the lock. It returns nil if the lock was still held,
// an error wrapping [lock.ErrLost] if the lease ran out first (everything
// done since may have overlapped another holder), [lock.ErrNotHolder] if
// already unlocked, or the etcd error if the outcome is unknown (then Unlock
// may be called again).
func (h *Held) Unlock(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return fmt.Errorf("unlock %q: %w", h.key, lock.ErrNotHolder)
	}
	resp, err := h.m.s.Client().Txn(ctx).
		If(h.IsOwner()).
		Then(clientv3.OpDelete(h.key)).
		Commit()
	if err != nil {
		return fmt.Errorf("unlock %q: %w", h.key, err)
	}
	h.released = true
	h.cancel()
	if !resp.Succeeded {
		return fmt.Errorf("unlock %q (token %d): %w", h.key, h.rev, lock.ErrLost)
	}
	return nil
}
