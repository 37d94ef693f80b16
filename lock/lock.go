package lock

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the lock contract. Backends wrap them with context
// (key, holder) and callers compare with [errors.Is].
var (
	// ErrLocked is returned by TryLock when another session holds the lock.
	ErrLocked = errors.New("lock: held by another session")
	// ErrNotHolder is returned by Unlock when the caller does not hold the
	// lock: it was never acquired, was already released, or is held with a
	// different holder value.
	ErrNotHolder = errors.New("lock: not the holder")
	// ErrLost is returned when a lock the caller held was taken away before
	// the caller released it, typically because its lease expired while the
	// caller was paused or partitioned. Anything done under the lock since
	// then may have overlapped another holder; only fenced writes are safe.
	ErrLost = errors.New("lock: lost")
	// ErrSessionExpired is returned when the session (lease) behind a lock
	// is gone, so no lock can be acquired with it; create a new session.
	ErrSessionExpired = errors.New("lock: session expired")
	// ErrLockTimeout is returned by [Locker.Lock] when the lock was not
	// acquired before the context's deadline.
	ErrLockTimeout = errors.New("lock: timed out waiting for the lock")
	// ErrStaleToken is returned by a fence when a token is lower than the
	// highest token the fence has admitted: a newer holder exists.
	ErrStaleToken = errors.New("lock: stale fencing token")
)

// Token is a fencing token: a number that grows strictly with every grant of
// one lock key, so a resource that remembers the highest token it admitted
// can refuse a holder whose lease has been superseded. The zero Token is
// never granted. With etcd it is the lock key's creation revision.
type Token int64

// Holder describes the current holder of a lock key, as reported by
// [Locker.IsLocked].
type Holder struct {
	// Key is the lock key the caller asked about.
	Key string
	// Value is the holder value given to Lock (e.g. "host-a/pid-42").
	Value string
	// Token is the holder's fencing token.
	Token Token
}

// Locker is the unified lock interface: one call to take a
// named lock for a holder value with a time to live, one to release it, one
// to inspect it. It is a compatibility layer; new code should use a backend's
// Session and Mutex directly, which expose the held lock's context and token.
//
// Implementations are safe for concurrent use.
type Locker interface {
	// Lock blocks until key is held for value with a lease of ttl, and
	// returns the fencing token. It returns an error wrapping ErrLockTimeout
	// if ctx ends first. A ttl of zero means the backend's default.
	Lock(ctx context.Context, key, value string, ttl time.Duration) (Token, error)
	// Unlock releases key if it is held for value. It returns an error
	// wrapping ErrNotHolder if key is not held for value, or ErrLost if the
	// lease ran out before Unlock.
	Unlock(ctx context.Context, key, value string) error
	// IsLocked reports the current holder of key; ok is false when nobody
	// holds it.
	IsLocked(ctx context.Context, key string) (h Holder, ok bool, err error)
}
