package ratelimit

import (
	"hash/maphash"
	"sync"
)

// DefaultMaxKeys is what [NewKeyed] uses for a maxKeys of 0 or less.
const DefaultMaxKeys = 10000

// Keyed holds one limiter per key (a client address, a header's value)
// for at most a bounded number of keys. When a new key would exceed the
// bound, the key used least recently is evicted: its limiter is dropped,
// and when the key comes back it starts fresh, with a new limiter (a full
// bucket, an empty window, a cold warm-up, no calls in flight: calls still
// in flight on the dropped limiter end on it). An evicted key thus gets
// its full allowance again; a bound too small for the keys in use lets
// them through more than their limit says, never less.
//
// Get is safe for concurrent use and O(1). It allocates only for a key it
// does not hold. Keys are spread over up to 16 shards by a hash, each with
// its own lock and its share of the bound, so least recently used is
// within a shard.
type Keyed[L any] struct {
	newL   func() L
	seed   maphash.Seed
	mask   uint64
	shards []keyShard[L]
}

type keyShard[L any] struct {
	mu   sync.Mutex // guards the fields below
	cap  int
	m    map[string]*keyEntry[L]
	ring keyEntry[L] // sentinel of the recency list: ring.next is the most recent
	_    [64]byte    // keep shards' locks off each other's cache lines
}

type keyEntry[L any] struct {
	key        string
	l          L
	prev, next *keyEntry[L]
}

// NewKeyed returns an empty Keyed that makes a key's limiter with
// newLimiter, and holds at most maxKeys keys (0 or less:
// [DefaultMaxKeys]). newLimiter is called with a shard's lock held: it
// must be quick and must not call the Keyed.
func NewKeyed[L any](maxKeys int, newLimiter func() L) *Keyed[L] {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	n := 1
	if maxKeys >= 1024 {
		n = 16
	}
	k := &Keyed[L]{newL: newLimiter, seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]keyShard[L], n)}
	for i := range k.shards {
		s := &k.shards[i]
		s.cap = maxKeys / n
		if i < maxKeys%n {
			s.cap++
		}
		s.m = make(map[string]*keyEntry[L], min(s.cap, 1024))
		s.ring.next, s.ring.prev = &s.ring, &s.ring
	}
	return k
}

// Get returns key's limiter, making it (and evicting the least recently
// used key when the bound is reached) if the Keyed does not hold key.
func (k *Keyed[L]) Get(key string) L {
	s := &k.shards[0]
	if k.mask != 0 {
		s = &k.shards[maphash.String(k.seed, key)&k.mask]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok {
		if s.ring.next != e {
			e.unlink()
			s.pushFront(e)
		}
		return e.l
	}
	var e *keyEntry[L]
	if len(s.m) >= s.cap {
		e = s.ring.prev // the least recently used: reuse its entry
		e.unlink()
		delete(s.m, e.key)
	} else {
		e = new(keyEntry[L])
	}
	e.key, e.l = key, k.newL()
	s.m[key] = e
	s.pushFront(e)
	return e.l
}

// Len returns how many keys the Keyed holds.
func (k *Keyed[L]) Len() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (e *keyEntry[L]) unlink() {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *keyShard[L]) pushFront(e *keyEntry[L]) {
	e.prev, e.next = &s.ring, s.ring.next
	s.ring.next.prev = e
	s.ring.next = e
}
