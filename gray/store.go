package gray

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Meta says who made a change, and why.
type Meta struct {
	// Who is the person or system ("config-file", "admin:alice").
	Who string `json:"who,omitempty"`
	// Comment is free text ("canary 5% for release 42").
	Comment string `json:"comment,omitempty"`
}

// Change is one versioned change of one route's policy.
type Change struct {
	// Revision is store-wide and strictly increasing: every change of any
	// route takes the next number.
	Revision uint64    `json:"revision"`
	Route    string    `json:"route"` // the route changed
	When     time.Time `json:"when"`  // from StoreConfig.Now
	Meta
	// Kind is "apply", "delete" or "rollback".
	Kind string `json:"kind"`
	// RolledBack is, for a rollback, the revision that first made the
	// undone policy live.
	RolledBack uint64 `json:"rolled_back,omitempty"`
	// Restores is, for a rollback, the revision that first made the
	// restored policy live; 0 when the rollback leaves the route without a
	// policy.
	Restores uint64 `json:"restores,omitempty"`
	// Policy is the policy live after the change; nil after a delete (or
	// a rollback to before the route existed).
	Policy *Policy `json:"policy,omitempty"`
}

// Current is what [Store.Get] returns: the live router of a route and the
// change that made it live.
type Current struct {
	Router *Router // immutable, safe for concurrent use
	Change Change  // the change that made it live
}

// StoreConfig configures a [Store]. The zero value is ready to use.
type StoreConfig struct {
	// History bounds how many changes per route are kept, for Rollback
	// and for reading; 0 means 32.
	History int
	// Now is the clock stamped on changes; nil means time.Now.
	Now func() time.Time
}

// Store holds the live gray policy of every route, versioned. Readers on
// the request path call [Store.Router], a single atomic load; writers
// ([Store.Apply], [Store.Rollback], [Store.Delete], [Store.ApplyAll])
// compile the new policy first, so a bad one is refused and the old one
// keeps serving, then swap in a new snapshot. Safe for concurrent use.
type Store struct {
	cfg  StoreConfig
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // guards everything below; never held on the request path
	rev     uint64
	stacks  map[string][]entry // per route: effective policies, oldest first; last is live
	history map[string][]Change
	changed chan struct{}      // closed and replaced at every change
	loaded  map[string]*Router // the policies of the last ApplyAll, as the source gave them
}

type entry struct {
	router *Router // nil: no policy
	change Change  // the change that made this entry live (last)
	origin uint64  // the revision that first made this policy live
}

type snapshot struct {
	rev    uint64
	routes map[string]Current
}

// NewStore returns an empty store.
func NewStore(cfg StoreConfig) *Store {
	if cfg.History <= 0 {
		cfg.History = 32
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{cfg: cfg, stacks: map[string][]entry{}, history: map[string][]Change{}, changed: make(chan struct{})}
	s.snap.Store(&snapshot{routes: map[string]Current{}})
	return s
}

// Router returns the live router of route, or nil when the route has no
// gray policy (route everything to its instances as usual). It does not
// block or allocate: it is the request path's entry point.
func (s *Store) Router(route string) *Router {
	return s.snap.Load().routes[route].Router
}

// Get returns the live router of route and the change that made it live.
func (s *Store) Get(route string) (Current, bool) {
	c, ok := s.snap.Load().routes[route]
	return c, ok
}

// Routes returns the names of the routes with a live policy, sorted.
func (s *Store) Routes() []string {
	return slices.Sorted(maps.Keys(s.snap.Load().routes))
}

// Revision returns the store's latest revision (0 before any change).
func (s *Store) Revision() uint64 { return s.snap.Load().rev }

// Changed returns a channel that is closed at the next change. Take a new
// one after each wake-up; no goroutine is involved.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// History returns route's recorded changes, oldest first (at most
// StoreConfig.History of them).
func (s *Store) History(route string) []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history[route])
}

// Apply compiles p and makes it route's live policy under a new revision.
// If expect is not 0, the route's live revision must be expect, or the
// change is refused with [ErrConflict] (two admins editing at once). A
// policy equal to the live one is not a change: Apply returns the live
// change and no new revision. An invalid policy is refused with the
// [Compile] error and nothing changes.
func (s *Store) Apply(route string, p Policy, expect uint64, m Meta) (Change, error) {
	if err := checkRoute(route); err != nil {
		return Change{}, err
	}
	r, err := Compile(p)
	if err != nil {
		return Change{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.expect(route, expect); err != nil {
		return Change{}, err
	}
	if live, ok := s.live(route); ok && live.router != nil && reflect.DeepEqual(live.router.policy, r.policy) {
		return live.change, nil
	}
	c := s.record(route, "apply", r, m, 0)
	s.push(route, entry{router: r, change: c, origin: c.Revision})
	s.publish()
	return c, nil
}

// ApplyAll loads the policies of a configuration source (the config
// file) as a whole, at start and at every reload. Only what changed in the
// source since its previous load is applied, each changed route under a
// new revision: a route whose policy in the source is unchanged is left
// as it is live, so a rollback or a change made through the admin API
// survives a reload of an unrelated part of the file. A route that left
// the source loses its policy; routes the source never held (created
// through the admin API) are not touched. All policies are compiled
// first; if any is invalid nothing changes and the error names the route
// ("route checkout: rules[0].subset: …").
func (s *Store) ApplyAll(policies map[string]Policy, m Meta) ([]Change, error) {
	compiled := make(map[string]*Router, len(policies))
	for _, route := range slices.Sorted(maps.Keys(policies)) {
		if err := checkRoute(route); err != nil {
			return nil, fmt.Errorf("route %s: %w", route, err)
		}
		r, err := Compile(policies[route])
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", route, err)
		}
		compiled[route] = r
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Change
	for _, route := range slices.Sorted(maps.Keys(compiled)) {
		r := compiled[route]
		if prev, ok := s.loaded[route]; ok && reflect.DeepEqual(prev.policy, r.policy) {
			continue // unchanged in the source
		}
		if live, ok := s.live(route); ok && live.router != nil && reflect.DeepEqual(live.router.policy, r.policy) {
			continue // already live
		}
		c := s.record(route, "apply", r, m, 0)
		s.push(route, entry{router: r, change: c, origin: c.Revision})
		out = append(out, c)
	}
	for _, route := range slices.Sorted(maps.Keys(s.loaded)) {
		if _, keep := compiled[route]; keep {
			continue
		}
		if live, ok := s.live(route); ok && live.router != nil {
			c := s.record(route, "delete", nil, m, 0)
			s.push(route, entry{change: c, origin: c.Revision})
			out = append(out, c)
		}
	}
	s.loaded = compiled
	if len(out) > 0 {
		s.publish()
	}
	return out, nil
}

// Delete removes route's policy (a new revision; Rollback brings it back).
// Deleting a route without a policy returns [ErrNoRoute].
func (s *Store) Delete(route string, expect uint64, m Meta) (Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	live, ok := s.live(route)
	if !ok || live.router == nil {
		return Change{}, fmt.Errorf("%w: %q", ErrNoRoute, route)
	}
	if err := s.expect(route, expect); err != nil {
		return Change{}, err
	}
	c := s.record(route, "delete", nil, m, 0)
	s.push(route, entry{change: c, origin: c.Revision})
	s.publish()
	return c, nil
}

// Rollback undoes route's live change: the policy that was live before it
// becomes live again, under a new revision (history only grows). Rolling
// back again undoes the change before that, as far as the bounded history
// reaches; then it returns [ErrNoPrevious]. Rolling back a route's first
// change removes its policy. The previous router was compiled when it was
// first applied, so a rollback cannot fail validation and is instant.
func (s *Store) Rollback(route string, expect uint64, m Meta) (Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stacks[route]
	if len(st) == 0 {
		return Change{}, fmt.Errorf("%w: %q", ErrNoRoute, route)
	}
	if err := s.expect(route, expect); err != nil {
		return Change{}, err
	}
	if len(st) < 2 {
		return Change{}, fmt.Errorf("%w: route %q at revision %d", ErrNoPrevious, route, st[0].change.Revision)
	}
	undone := st[len(st)-1].origin
	st = st[:len(st)-1]
	prev := st[len(st)-1].router
	c := s.record(route, "rollback", prev, m, undone)
	c.Restores = st[len(st)-1].origin
	s.history[route][len(s.history[route])-1].Restores = c.Restores
	st[len(st)-1].change = c
	s.stacks[route] = st
	s.publish()
	return c, nil
}

func (s *Store) live(route string) (entry, bool) {
	st := s.stacks[route]
	if len(st) == 0 {
		return entry{}, false
	}
	return st[len(st)-1], true
}

func (s *Store) expect(route string, want uint64) error {
	if want == 0 {
		return nil
	}
	var have uint64
	if e, ok := s.live(route); ok {
		have = e.change.Revision
	}
	if have != want {
		return fmt.Errorf("%w: route %q is at revision %d, not %d", ErrConflict, route, have, want)
	}
	return nil
}

// record takes the next revision and appends the change to the history.
// s.mu must be held.
func (s *Store) record(route, kind string, r *Router, m Meta, undone uint64) Change {
	s.rev++
	c := Change{Revision: s.rev, Route: route, When: s.cfg.Now(), Meta: m, Kind: kind, RolledBack: undone}
	if r != nil {
		p := r.Policy()
		c.Policy = &p
	}
	h := append(s.history[route], c)
	if len(h) > s.cfg.History {
		h = slices.Clone(h[len(h)-s.cfg.History:])
	}
	s.history[route] = h
	return c
}

// push makes e route's live entry. A route's stack starts with an entry
// without a policy (what was live before its first change) and keeps at
// most History changes above the oldest one it can roll back to.
// s.mu must be held.
func (s *Store) push(route string, e entry) {
	st := s.stacks[route]
	if len(st) == 0 {
		st = []entry{{}}
	}
	st = append(st, e)
	if len(st) > s.cfg.History+1 {
		st = slices.Clone(st[len(st)-s.cfg.History-1:])
	}
	s.stacks[route] = st
}

// publish swaps in a snapshot of the live routers and wakes Changed
// waiters. s.mu must be held.
func (s *Store) publish() {
	routes := make(map[string]Current, len(s.stacks))
	for route, st := range s.stacks {
		if e := st[len(st)-1]; e.router != nil {
			routes[route] = Current{Router: e.router, Change: e.change}
		}
	}
	s.snap.Store(&snapshot{rev: s.rev, routes: routes})
	close(s.changed)
	s.changed = make(chan struct{})
}

func checkRoute(route string) error {
	if err := CheckName(route); err != nil {
		return fmt.Errorf("%w: route: %v", ErrInvalid, err)
	}
	return nil
}
