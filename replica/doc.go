// Package replica keeps one site's copy of duohuo's replicated state — named
// CRDT objects (package crdt) such as a KV namespace, a global counter or a
// set — durable on local disk and replicated between sites.
//
// Every site accepts writes on its own, even when cut off from the others
// ("local first"), and all sites converge to the same state when they can
// talk again:
//
//   - A write ([Store.Update]) is applied to the local object, appended to a
//     bbolt log and fsynced (group commit) before Update returns: an
//     acknowledged write survives a crash. Nothing leaves a site before it
//     is durable there (full states and acks wait for their fsync too), so
//     a store keeps its replica id across crashes and never issues a dot
//     twice.
//   - Its delta is then sent to every live site (memberlist: membership,
//     failure detection, AES-GCM with a shared key). Small deltas travel as
//     UDP packets, large ones over TCP; nothing is forwarded, so no delta
//     ever goes back to where it came from.
//   - A received delta is first stripped of what this site already has
//     ([crdt.Novel]); only the rest is applied, stored and announced.
//   - Anti-entropy repairs what was lost: every interval, and as soon as a
//     site (re)joins, a site sends another 64 bucket digests; for the
//     buckets that differ the two exchange summaries (digests and causal
//     contexts) and the states the other lacks, so one round repairs both
//     directions. An ORSet or ORMap is sent only if the other lacks an
//     event held for a whole interval, not one still in flight.
//
// A site never waits for another to start: joins run in the background,
// retried with backoff for every configured address and every member ever
// seen (joiner.go), and [Store.Peers] says which are unreachable or refuse
// our key.
//
// Writes over a limit ([MaxObjectLen] and the others in limits.go) are
// refused before they are applied, and recovery quarantines a record of the
// store file it cannot decode ([Store.Quarantined]) rather than refusing to
// open.
//
// The observed-remove types forget removed elements entirely (see package
// crdt); what remains per site is one version-vector entry per site that
// wrote the object. The legacy LWW-element set keeps a tombstone per removed
// element until every member site has acknowledged the removal (Redis
// Active-Active's rule): sites exchange acks each anti-entropy interval,
// [Store.Stable] is the resulting stability frontier, which stops while a
// member is away, and each site compacts to it ([crdt.LWWSet.Compact]).
// [Store.Forget] removes a site gone for good from the members waited for.
//
// Usage:
//
//	st, err := replica.Open(ctx, replica.Config{
//		Name: "ctyun/cn-north-1", Dir: "/var/lib/duohuo/replica",
//		BindAddr: "10.0.0.5", BindPort: 7946, Join: []string{"10.1.0.5:7946"},
//		SecretKey: key, Network: replica.NetworkWAN,
//	})
//	...
//	defer st.Close()
//	err = st.Update(ctx, "gray/rules", func(tx *replica.Txn) error {
//		tx.Put("checkout", []byte("10%"))
//		return nil
//	})
//	for ev := range st.Watch(ctx, "gray/") { ... }
//
// Package replicatest provides a transport that cuts links between sites,
// for partition tests.
package replica
