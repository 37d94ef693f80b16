// Package crdt provides delta-state conflict-free replicated data types and
// a hybrid logical clock: the values that duohuo's sites replicate to each
// other so that each site accepts writes on its own and all sites converge
// when they can talk.
//
// Types:
//
//   - [GCounter] and [PNCounter]: counters (global rate limits).
//   - [LWWRegister]: one last-writer-wins value.
//   - [ORSet]: an add-wins observed-remove set without tombstones
//     (Riak's ORSWOT, the AWSet of Almeida et al.).
//   - [ORMap]: an observed-remove map of last-writer-wins values, the type
//     of a KV namespace.
//   - [LWWSet]: the last-writer-wins element set of the original design,
//     kept for compatibility; prefer ORSet. Its tombstones are collected
//     by [LWWSet.Compact] once every site has seen the removal.
//
// Every mutator applies to the receiver and returns a delta (Almeida,
// Shoker, Baquero, "Delta State Replicated Data Types", 2016): a small value
// of the same type that merges like a full state. Merge is a join: it is
// commutative, associative and idempotent, so deltas and states may be
// delivered in any order, any number of times, and lost deltas are repaired
// by merging a full state later. Property tests and fuzzing check these laws
// for every type.
//
// Replicas are named by a [ReplicaID]. Causality between them is tracked by
// dots and a [CausalContext] (version vector plus dot cloud); the [Clock]
// only orders last-writer-wins writes, by a [Stamp] of hybrid logical time
// and replica id.
//
// Every type has a compact, versioned, canonical binary encoding
// (AppendBinary, UnmarshalBinary, [Decode]): equal states encode to equal
// bytes, so replicas compare a [Object.Digest] to know they have converged.
// Decoders never panic, bound what they allocate, and name the byte at
// fault.
//
// The package is pure: standard library only, no I/O, no goroutines. Its
// types are not safe for concurrent use; the store that holds them
// serialises access.
//
// Usage:
//
//	clock := crdt.NewClock(nil, 0)
//	site := crdt.ReplicaIDFromName("ctyun/cn-north-1")
//	kv := crdt.NewORMap()
//	delta := kv.Put(site, clock.Now(), "gray/checkout", []byte("10%"))
//	send(delta) // other sites: theirKV.Merge(delta)
package crdt
