// Package lock defines duohuo's distributed lock contract: fencing tokens, the
// errors callers branch on, a [Fence] any store can use to reject a stale
// holder, and the unified [Locker] interface.
//
// The package has no backend and no dependency outside the standard library.
// The etcd backend lives in [github.com/duohuo/duohuo/lock/etcdlock]: a
// Session (lease, keep-alive, Done when the lease is lost) and a Mutex whose
// Lock returns a held lock carrying a [Token]. The linearizability harness
// that checks backends under faults lives in
// [github.com/duohuo/duohuo/lock/linearize].
//
// # Why fencing
//
// A lease-based lock cannot by itself guarantee mutual exclusion: a holder
// that pauses (GC, SIGSTOP, a slow disk, a partition) past its lease keeps
// running after another client took the lock. Jepsen showed this for etcd
// 3.4.3 ("locks did not, and can not, guarantee mutual exclusion in
// asynchronous networks"). The cure (Kleppmann, "How to do distributed
// locking", 2016) is a token that grows with every grant and that the
// protected resource checks on every access: the resource refuses a token
// lower than the highest it has seen. With etcd the token is the lock key's
// creation revision.
//
// # Usage
//
//	held, err := mu.Lock(ctx)            // etcdlock.Mutex
//	if err != nil { ... }
//	defer held.Unlock(context.WithoutCancel(ctx))
//	// the store keeps one lock.Fence per protected resource and calls
//	// Admit on every read and write made under the lock:
//	if err := store.fence.Admit(held.Token()); err != nil {
//		return err // errors.Is(err, lock.ErrStaleToken): someone newer holds it
//	}
package lock
