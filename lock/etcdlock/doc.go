// Package etcdlock is duohuo's lock backend on etcd v3: a [Session] (a lease
// kept alive, Done when it is lost), a [Mutex] whose Lock returns a [Held]
// lock with a fencing token, a [Fence] kept in etcd, and [Locker], the
// the Lock/Unlock/IsLocked interface of [lock.Locker] on top.
//
// # Design
//
// The queue is etcd's own lock recipe (client/v3/concurrency): each waiter
// puts key/<lease ID in hex> under the session's lease; the key with the
// lowest creation revision holds the lock; every other waiter watches only
// the newest key created before its own (FIFO by revision, no herd). Because
// the key name comes from the lease, an acquire retried after a lost
// response finds the key its first attempt created and keeps its place
// (the ZOOKEEPER-1262 problem). The fencing token is the key's creation
// revision: etcd revisions grow strictly, so each grant of one key gets a
// larger token than every earlier grant.
//
// Session wraps concurrency.Session unchanged: lease grant, keep-alive every
// TTL/3 and Done are exactly what it does. The mutex is written here rather
// than on concurrency.Mutex because that type always stores an empty value
// (there is no holder value for IsLocked), exposes no way to learn that the
// lock was lost, and its Unlock deletes the key without checking that it is
// still the one it created. Ours stores the holder value, ties each held
// lock to a context that ends with the lease, and unlocks with a
// transaction that tells a clean release from a lost lock ([lock.ErrLost]).
// It costs the same round trips: one transaction to acquire uncontended,
// one to release.
//
// # What it cannot promise
//
// A lease lock does not by itself give mutual exclusion: a holder paused
// past its TTL (GC, SIGSTOP, a partition) still believes it holds the lock
// when it resumes, and Jepsen showed etcd locks lose updates that way. Make
// every access to the protected resource carry [Held.Token] and let the
// resource refuse stale tokens: with [Fence] (state in etcd), with
// [Held.IsOwner] in your own etcd transaction, or with a [lock.Fence] in any
// other store.
//
// # Usage
//
//	s, err := etcdlock.NewSession(ctx, cli, etcdlock.WithTTL(10*time.Second))
//	if err != nil { ... }
//	defer s.Close()
//	m := etcdlock.NewMutex(s, "/locks/report", "host-a/42")
//	held, err := m.Lock(ctx)
//	if err != nil { ... }
//	defer held.Unlock(context.WithoutCancel(ctx))
//	fence := etcdlock.Fence{KV: cli, Key: "/report/fence"}
//	_, err = fence.Txn(held.Context(), held.Token(), clientv3.OpPut("/report/data", "..."))
//	// errors.Is(err, lock.ErrStaleToken): a newer holder wrote first
package etcdlock
