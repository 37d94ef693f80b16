package analysis

import (
	"sync"
	"sync/atomic"
	"time"
)

// Key names a cohort: one subset of one route.
type Key struct {
	Route, Subset string
}

// Recorders holds one [Recorder] per route × subset, created on first use.
// Lookups are lock-free (an atomic load of an immutable map); only the
// first request of a new route × subset takes a lock, to copy the map. The
// zero value is ready to use; safe for concurrent use.
type Recorders struct {
	// Bounds are the histogram bounds of new recorders; nil means
	// [DefaultBounds]. Set before first use.
	Bounds []time.Duration

	m  atomic.Pointer[map[Key]*Recorder]
	mu sync.Mutex // serializes copy-on-write of m
}

// Get returns the recorder of k, creating it if needed.
func (rs *Recorders) Get(k Key) *Recorder {
	if m := rs.m.Load(); m != nil {
		if r, ok := (*m)[k]; ok {
			return r
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	old := rs.m.Load()
	if old != nil {
		if r, ok := (*old)[k]; ok {
			return r
		}
	}
	next := make(map[Key]*Recorder, 1+lenOf(old))
	if old != nil {
		for key, r := range *old {
			next[key] = r
		}
	}
	r := NewRecorder(rs.Bounds)
	next[k] = r
	rs.m.Store(&next)
	return r
}

// Snapshot returns the cohort of every key recorded so far.
func (rs *Recorders) Snapshot() map[Key]Cohort {
	out := map[Key]Cohort{}
	if m := rs.m.Load(); m != nil {
		for k, r := range *m {
			out[k] = r.Snapshot()
		}
	}
	return out
}

func lenOf(m *map[Key]*Recorder) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
