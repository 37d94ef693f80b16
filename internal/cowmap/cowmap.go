// Package cowmap is the copy-on-write map that duohuo's per-request caches
// share (breakers per instance, metric series per route and cloud,
// recorders per gray lane, formatted upstream addresses): values made once
// and then read on every request, over key sets that stop growing.
//
// A read is one atomic load and a map lookup: no lock, no allocation,
// never blocked by a writer. A write copies the map under a mutex, so it
// costs O(n); use it only where writes are rare.
//
//	var series cowmap.Map[string, *routeSeries]
//	s := series.LoadOrMake(cloud, func() *routeSeries { return newSeries(cloud) })
package cowmap

import (
	"iter"
	"sync"
	"sync/atomic"
)

// Map is a copy-on-write map from K to V. The zero value is an empty map
// ready to use; a Map must not be copied after first use. All methods are
// safe for concurrent use.
type Map[K comparable, V any] struct {
	// Limit, when not 0, is the most keys the map holds: LoadOrMake then
	// returns what it made without keeping it, so that keys churning
	// without end (addresses of instances that come and go) cannot grow
	// the map, and its copies, without bound. Set before first use.
	Limit int

	p  atomic.Pointer[map[K]V] // immutable once stored
	mu sync.Mutex              // serialises writers of p
}

// Load returns the value of k and whether there is one. It never blocks.
func (m *Map[K, V]) Load(k K) (V, bool) {
	if p := m.p.Load(); p != nil {
		v, ok := (*p)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// LoadOrMake returns the value of k, first storing mk() when there is
// none. mk runs under the writers' lock, so it is called at most once for a
// key while the key stays in the map (and must not call back into m). On a
// hot path, Load first: a closure that captures variables may be
// allocated for the call even when the key is present.
func (m *Map[K, V]) LoadOrMake(k K, mk func() V) V {
	if v, ok := m.Load(k); ok {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.p.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	v := mk()
	n := 0
	if old != nil {
		n = len(*old)
	}
	if m.Limit > 0 && n >= m.Limit {
		return v
	}
	next := cloneWith(old, n+1)
	next[k] = v
	m.p.Store(&next)
	return v
}

// Store sets the value of k.
func (m *Map[K, V]) Store(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.p.Load()
	n := 0
	if old != nil {
		n = len(*old)
	}
	next := cloneWith(old, n+1)
	next[k] = v
	m.p.Store(&next)
}

// DeleteFunc removes every key for which del returns true.
func (m *Map[K, V]) DeleteFunc(del func(K, V) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.p.Load()
	if old == nil {
		return
	}
	next := make(map[K]V, len(*old))
	for k, v := range *old {
		if !del(k, v) {
			next[k] = v
		}
	}
	m.p.Store(&next)
}

// Len returns the number of keys.
func (m *Map[K, V]) Len() int {
	if p := m.p.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// All returns the keys and values of the map as it was when All was
// called (later writes do not show), in no particular order.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	p := m.p.Load()
	return func(yield func(K, V) bool) {
		if p == nil {
			return
		}
		for k, v := range *p {
			if !yield(k, v) {
				return
			}
		}
	}
}

func cloneWith[K comparable, V any](old *map[K]V, size int) map[K]V {
	next := make(map[K]V, size)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	return next
}
