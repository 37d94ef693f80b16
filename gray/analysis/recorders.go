package analysis

import (
	"time"

	"github.com/duohuo/duohuo/internal/cowmap"
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

	m cowmap.Map[Key, *Recorder]
}

// Get returns the recorder of k, creating it if needed.
func (rs *Recorders) Get(k Key) *Recorder {
	if r, ok := rs.m.Load(k); ok {
		return r
	}
	return rs.m.LoadOrMake(k, func() *Recorder { return NewRecorder(rs.Bounds) })
}

// Snapshot returns the cohort of every key recorded so far.
func (rs *Recorders) Snapshot() map[Key]Cohort {
	out := map[Key]Cohort{}
	for k, r := range rs.m.All() {
		out[k] = r.Snapshot()
	}
	return out
}
