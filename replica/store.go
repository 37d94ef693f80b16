package replica

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("replica: object not found")
	ErrClosed   = errors.New("replica: store closed")
)

// Store is one site's replica of a set of named CRDT objects. Local writes
// ([Store.Update]) are applied, made durable with an fsync, and only then
// acknowledged and sent to the other sites; deltas from other sites are
// stripped of what is already known, applied, stored and announced to
// watchers.
//
// A Store is safe for concurrent use. Close it to stop its goroutines.
type Store struct {
	cfg     Config
	log     *slog.Logger
	clock   *crdt.Clock
	replica crdt.ReplicaID
	disk    *disk
	metrics *metrics
	gossip  *gossip       // nil when the store runs alone
	stable  atomic.Uint64 // the stability frontier, a crdt.Timestamp; see Stable
	wm      *watermark    // which in-memory changes are durable; see durable.go

	mu       sync.Mutex // guards objects, dirty, watchers, closing, kinds
	closing  bool
	inflight sync.WaitGroup // Updates between the closing check and the hand-over
	objects  map[string]crdt.Object
	digests  map[string][32]byte // cached object digests, dropped on every change
	// sizes bounds each object's encoded size from above: measured
	// exactly when a write comes near MaxObjectLen, grown by every delta
	// since. Absent: not measured since the store opened.
	sizes    map[string]int
	dirty    map[string]struct{}
	watchers map[*watcher]struct{}
	ae       *aeContexts // causal contexts for anti-entropy; see antientropy.go
	kinds    *kindTable  // births and the states of losing kinds; see kinds.go

	commits chan *commit
	failed  bool          // committer only: a commit failed and no checkpoint since covers it
	stop    chan struct{} // closed by Close
	wg      sync.WaitGroup
	closed  sync.Once
}

// commit is a batch of deltas for the committer; done (if not nil) receives
// the outcome once they are durable.
type commit struct {
	recs   []record
	seq    uint64 // the watermark number of the change, issued under s.mu
	local  bool
	origin string // the member a remote batch came from
	done   chan error
}

// Open opens (or creates) the store in cfg.Dir, recovers its objects, and,
// when cfg.BindAddr is set, starts joining the other sites in the
// background: it returns without waiting for any (see [Store.Peers]). It
// returns an error naming the field for an invalid Config.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d, objs, kinds, dirty, err := openDisk(cfg.Dir, cfg.AtRest)
	if err != nil {
		return nil, err
	}
	wm := newWatermark()
	s := &Store{
		cfg:      cfg,
		log:      cfg.logger(),
		clock:    crdt.NewClock(cfg.Clock, cfg.MaxClockOffset),
		replica:  d.replica,
		disk:     d,
		wm:       wm,
		metrics:  newMetrics(cfg.Registerer, wm),
		objects:  objs,
		digests:  make(map[string][32]byte),
		sizes:    make(map[string]int),
		dirty:    dirty,
		watchers: make(map[*watcher]struct{}),
		ae:       newAEContexts(objs),
		kinds:    kinds,
		commits:  make(chan *commit, 1024),
		stop:     make(chan struct{}),
	}
	s.clock.Restore(d.clock)
	for _, q := range d.fresh {
		s.log.Error("replica: record quarantined: recovery could not load it and keeps it aside in the store file; the rest loaded",
			"record", q.Record, "object", q.Object, "bytes", q.Size, "err", q.Error, "dir", cfg.Dir)
	}
	s.metrics.quarantined.Set(float64(len(d.quarantined)))
	if d.unclean {
		s.log.Info("replica: recovered after an unclean shutdown", "dir", cfg.Dir, "replica", d.replica, "logged", d.logged)
	}
	s.metrics.objects.Set(float64(len(objs)))
	s.metrics.kindConflicts.Set(float64(kinds.count()))
	s.wg.Add(1)
	go s.committer()
	if cfg.BindAddr != "" {
		if _, err := startGossip(ctx, s); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Replica returns the store's replica id. It is chosen when the store's
// directory is created and kept for life, across restarts and crashes
// alike; a site whose directory is lost comes back under a new one.
func (s *Store) Replica() crdt.ReplicaID { return s.replica }

// Name returns the site name from the Config.
func (s *Store) Name() string { return s.cfg.Name }

// Update runs fn on object key and applies its mutations atomically. It
// returns once they are durable on local disk (nil) or could not be made
// durable (an error); fn's error is returned as is and nothing is applied.
// Update blocks for one fsync, shared with concurrent Updates (group
// commit). Cancelling ctx stops the wait but not a write already handed to
// disk: the write may still become durable and replicate.
//
// A write over a limit (see [MaxObjectLen] and the other limits in
// limits.go, listed in docs/security.md) or a counter addition that would
// overflow is refused before anything is applied, with an error wrapping
// [ErrTooLarge], [ErrInvalid] or [crdt.ErrOverflow]: nothing is
// acknowledged that recovery or another site could not decode.
//
// fn runs with the store's lock held: keep it short and do not call the
// Store from it. An error other than fn's (disk, ctx) means the outcome is
// unknown: the write is applied in memory and may yet become durable and
// replicate, like a request that timed out.
func (s *Store) Update(ctx context.Context, key string, fn func(*Txn) error) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := s.prepare(key, fn)
	if c == nil || err != nil {
		return err
	}
	// The committer runs until every in-flight hand-over is done (Close
	// waits for them), so this send cannot block forever, and every commit
	// handed over gets an answer.
	s.commits <- c
	s.inflight.Done()
	select {
	case err := <-c.done:
		if err == nil {
			s.metrics.writes.Inc()
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prepare runs fn under the lock and applies its mutations in memory. It
// returns the commit to hand to the committer (nil if fn changed nothing),
// with s.inflight incremented. The deferred unlock keeps the store usable if
// fn panics.
func (s *Store) prepare(key string, fn func(*Txn) error) (*commit, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrClosed
	}
	tx := &Txn{key: key, id: s.replica, obj: s.objects[key]}
	if err := fn(tx); err != nil {
		return nil, err
	}
	if tx.err != nil {
		if errors.Is(tx.err, crdt.ErrKind) && len(s.kinds.aside[key]) > 0 {
			return nil, fmt.Errorf("%w; it was also created as another kind at another site, kept aside as a kind conflict (see duohuo kv status)", tx.err)
		}
		return nil, tx.err
	}
	if len(tx.ops) == 0 {
		return nil, nil
	}
	obj, delta, size, err := s.applyLocked(key, tx)
	if err != nil {
		return nil, err
	}
	s.objects[key] = obj
	s.sizes[key] = size
	if tx.obj == nil {
		s.kinds.setBirth(key, crdt.Stamp{Time: s.clock.Now(), Replica: s.replica})
		s.metrics.objects.Set(float64(len(s.objects)))
	}
	s.dirty[key] = struct{}{}
	s.ae.changed[key] = struct{}{}
	s.notifyLocked(key)
	s.inflight.Add(1)
	return &commit{recs: []record{{key: key, delta: delta, birth: s.kinds.births[key], time: s.clock.Now()}}, seq: s.wm.issue(), local: true, done: make(chan error, 1)}, nil
}

// applyLocked applies tx's mutations and returns the object as they leave
// it, their delta and a bound on the object's encoded size; or an error,
// and nothing changed, if the delta or the object would exceed
// MaxObjectLen. Most writes are far from the limit by the size estimate
// and apply in place, measuring only the delta. A write that may come
// near it works on a copy, measured exactly, which replaces the object
// only if it stays within the limit, or grows nothing (a delete from an
// object that concurrent writes elsewhere pushed past it).
func (s *Store) applyLocked(key string, tx *Txn) (crdt.Object, crdt.Object, int, error) {
	obj := tx.obj
	est, known := s.sizes[key]
	if obj != nil && !known {
		est = encodedLen(obj)
	}
	near := est+tx.growth+nearMargin > MaxObjectLen
	target := obj
	switch {
	case obj == nil:
		target, _ = crdt.New(tx.k)
	case near:
		target = crdt.Clone(obj)
	}
	delta, _ := crdt.New(tx.k)
	for _, op := range tx.ops {
		_ = crdt.Merge(delta, op(target, s.replica, s.clock.Now))
	}
	dlen := encodedLen(delta)
	if !near {
		// In place: est+growth is far below the limit and bounds both.
		return target, delta, est + dlen, nil
	}
	if err := checkLen(fmt.Sprintf("delta of one write to %q", key), dlen, MaxObjectLen); err != nil {
		return nil, nil, 0, err
	}
	size := encodedLen(target)
	if size > MaxObjectLen && (obj == nil || size > encodedLen(obj)) {
		return nil, nil, 0, checkLen(fmt.Sprintf("object %q after the write", key), size, MaxObjectLen)
	}
	return target, delta, size, nil
}

func encodedLen(o crdt.Object) int {
	b, _ := o.AppendBinary(nil)
	return len(b)
}

// digestLocked returns object key's digest, from the cache when it has not
// changed since. Called with s.mu held.
func (s *Store) digestLocked(key string) [32]byte {
	d, ok := s.digests[key]
	if !ok {
		d = s.objects[key].Digest()
		if b, ok := s.kinds.births[key]; ok {
			// The birth is part of the state (kinds.go): sites must agree
			// on it too.
			d = sha256.Sum256(appendStamp(d[:], b))
		}
		s.digests[key] = d
	}
	return d
}

// Get returns a copy of object key, or [ErrNotFound].
func (s *Store) Get(key string) (crdt.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return nil, fmt.Errorf("replica: get %q: %w", key, ErrNotFound)
	}
	return crdt.Clone(o), nil
}

// Read calls fn with object key itself, not a copy, under the store's
// lock: the cheap way to look up one map key of a large object. fn must not
// modify or keep the object, nor call the Store. It returns
// [ErrNotFound] if the object does not exist, else fn's error.
func (s *Store) Read(key string, fn func(crdt.Object) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objects[key]
	if !ok {
		return fmt.Errorf("replica: read %q: %w", key, ErrNotFound)
	}
	return fn(o)
}

// Keys returns the names of all objects with the given prefix, sorted.
func (s *Store) Keys(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// Digest returns a digest of every object (names and canonical encodings):
// two replicas with equal digests hold equal states.
func (s *Store) Digest() [32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(s.objects)) {
		d := s.digestLocked(k)
		h.Write(binary.AppendUvarint(nil, uint64(len(k))))
		h.Write([]byte(k))
		h.Write(d[:])
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Digests returns each object's digest.
func (s *Store) Digests() map[string][32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string][32]byte, len(s.objects))
	for k := range s.objects {
		m[k] = s.digestLocked(k)
	}
	return m
}

// Close leaves the cluster (announcing it for up to a second; a leave not
// announced by then is logged, not returned), checkpoints, marks the store
// closed cleanly and stops its goroutines, waiting for them. Writes in flight get [ErrClosed]
// or complete. A send or a join attempt blocked in a dial to an unreachable
// peer holds Close for up to memberlist's TCP timeout (Local 1s, LAN 10s,
// WAN 30s). Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		if s.gossip != nil {
			err = errors.Join(err, s.gossip.close())
		}
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.inflight.Wait()
		close(s.stop)
		s.wg.Wait()
		s.mu.Lock()
		for w := range s.watchers {
			w.stopLocked()
		}
		s.mu.Unlock()
		err = errors.Join(err, s.checkpoint(), s.disk.close())
	})
	return err
}

// apply merges deltas received from origin: each is first stripped of what
// this replica already has (crdt.Novel), and only the novel parts are
// applied, stored and announced. Conflicts in map keys the deltas touched
// whose winning write is this replica's are then settled (crdt.ORMap.Settle)
// as local writes, so that losing values do not linger. It returns how many
// deltas were novel.
func (s *Store) apply(origin string, recs []record) int {
	var novel, settled []record
	s.mu.Lock()
	now := s.wallNow()
	for _, r := range recs {
		o, existed := s.objects[r.key]
		adm, changedKind, first := s.kinds.admit(s.objects, r.key, r.birth, r.delta, now)
		var n crdt.Object
		switch {
		case adm == admitAside:
			if first {
				s.logConflictLocked(r.key, r.delta.Kind(), origin)
			}
			if changedKind {
				// Logged, so that recovery sets it aside again.
				novel = append(novel, record{key: r.key, delta: r.delta, birth: r.birth})
				s.metrics.kindConflicts.Set(float64(s.kinds.count()))
			} else {
				s.metrics.redundant.Inc()
			}
			continue
		case adm == admitReplaced:
			s.logConflictLocked(r.key, o.Kind(), origin)
			s.metrics.kindConflicts.Set(float64(s.kinds.count()))
			delete(s.sizes, r.key) // measured again by the next write
			delete(s.ae.cur, r.key)
			delete(s.ae.prev, r.key)
			n = r.delta
		case !existed:
			// A copy: the delta also goes to the committer, which encodes
			// it while later writes change the live object.
			o = crdt.Clone(r.delta)
			s.objects[r.key] = o
			n = r.delta
		default:
			var changed bool
			var err error
			n, changed, err = crdt.Novel(o, r.delta)
			if err != nil { // cannot happen: admit checked the kind
				s.metrics.rejected.WithLabelValues("kind").Inc()
				s.log.Warn("replica: delta of another kind refused", "key", r.key, "from", origin, "err", err)
				continue
			}
			if !changed && !changedKind {
				s.metrics.redundant.Inc()
				continue
			}
			_ = crdt.Merge(o, n)
		}
		o = s.objects[r.key]
		if size, ok := s.sizes[r.key]; ok || !existed {
			// Keep the bound: a join adds at most what it brings.
			if r.size == 0 {
				r.size = encodedLen(n)
			}
			s.sizes[r.key] = size + r.size
		}
		novel = append(novel, record{key: r.key, delta: n, birth: s.kinds.births[r.key]})
		if m, ok := o.(*crdt.ORMap); ok {
			if d := s.settleLocked(m, n.(*crdt.ORMap)); d != nil {
				settled = append(settled, record{key: r.key, delta: d, birth: s.kinds.births[r.key], time: s.clock.Now()})
			}
		}
		s.dirty[r.key] = struct{}{}
		s.ae.changed[r.key] = struct{}{}
		s.notifyLocked(r.key)
	}
	s.metrics.objects.Set(float64(len(s.objects)))
	var commits []*commit
	if len(novel) > 0 {
		commits = append(commits, &commit{recs: novel, seq: s.wm.issue(), origin: origin})
	}
	if len(settled) > 0 {
		commits = append(commits, &commit{recs: settled, seq: s.wm.issue(), local: true})
	}
	s.mu.Unlock()
	for _, c := range commits {
		select {
		case s.commits <- c:
		case <-s.stop:
		}
	}
	return len(novel)
}

// settleLocked settles the keys of delta in m that this replica won, and
// returns the joined delta, or nil if there was nothing to settle.
func (s *Store) settleLocked(m, delta *crdt.ORMap) *crdt.ORMap {
	var out *crdt.ORMap
	for _, k := range delta.Keys() {
		if d := m.Settle(s.replica, k); d != nil {
			if out == nil {
				out = crdt.NewORMap()
			}
			out.Merge(d)
		}
	}
	return out
}

// committer is the only writer to disk: it commits batches of deltas with
// one fsync (group commit), acknowledges them, hands local ones to gossip
// and checkpoints when the log grows.
func (s *Store) committer() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	s.reseal()
	for {
		var batch []*commit
		var retry <-chan time.Time
		if s.failed {
			retry = tick.C
		}
		select {
		case c := <-s.commits:
			batch = append(batch, c)
		case <-retry:
			if err := s.checkpoint(); err != nil {
				s.log.Error("replica: checkpoint", "err", err)
			}
			continue
		case <-s.stop:
			s.drainCommits()
			return
		}
	more:
		for len(batch) < 512 {
			select {
			case c := <-s.commits:
				batch = append(batch, c)
			default:
				break more
			}
		}
		// After a failed commit, a checkpoint is what makes those changes
		// durable (see durable.go); it is retried after every batch, and
		// every second while no batch comes.
		s.commitBatch(batch)
		if s.failed || s.disk.logged >= s.cfg.checkpointEvery() {
			if err := s.checkpoint(); err != nil {
				s.log.Error("replica: checkpoint", "err", err)
			}
		}
	}
}

// reseal checkpoints at once when recovery found records clear or sealed
// with a key other than the active one (Config.AtRest): the checkpoint
// writes their objects sealed with the active key and empties the log, so
// that a retired key is needed no more once it succeeds (on failure it is
// retried as after a failed commit). It runs on the committer goroutine
// before the first batch.
func (s *Store) reseal() {
	if s.disk.stale == 0 {
		return
	}
	n := s.disk.stale
	if err := s.checkpoint(); err != nil {
		s.failed = true
		s.log.Error("replica: at rest: sealing records again with the active key failed; retried every second", "records", n, "err", err)
		return
	}
	s.disk.stale = 0
	s.log.Info("replica: at rest: records that were clear or sealed with a retired key are now sealed with the active key", "records", n, "dir", s.cfg.Dir)
}

func (s *Store) commitBatch(batch []*commit) {
	var recs []record
	var seqs []uint64
	for _, c := range batch {
		recs = append(recs, c.recs...)
		seqs = append(seqs, c.seq)
	}
	var err error
	if s.cfg.hookCommit != nil {
		err = s.cfg.hookCommit()
	}
	if err == nil {
		timer := s.metrics.fsync.Start()
		err = s.disk.append(recs, s.clock.Last())
		timer()
	}
	if err == nil {
		s.wm.done(seqs...)
	} else {
		s.failed = true
	}
	var out []record
	for _, c := range batch {
		if c.done != nil {
			c.done <- err
		}
		if err == nil && c.local {
			out = append(out, c.recs...)
		}
	}
	if err != nil {
		s.metrics.diskErrors.WithLabelValues("commit").Inc()
		s.log.Error("replica: commit", "deltas", len(recs), "err", err)
		return
	}
	if s.gossip != nil && len(out) > 0 {
		s.gossip.broadcast(out)
	}
}

// drainCommits commits what is queued when the store closes, so that no
// Update that was handed over is left without an answer.
func (s *Store) drainCommits() {
	for {
		select {
		case c := <-s.commits:
			s.commitBatch([]*commit{c})
		default:
			return
		}
	}
}

// checkpoint writes dirty objects and empties the log. It runs on the
// committer goroutine (or after it stopped), so every logged delta is
// already in memory and therefore in the states written. Once they are
// written, every change numbered up to the watermark taken with them is
// durable, including changes whose own commit failed.
func (s *Store) checkpoint() error {
	s.mu.Lock()
	cp := checkpointData{
		states: make(map[string][]byte, len(s.dirty)),
		births: make(map[string]crdt.Stamp, len(s.dirty)),
		asides: make(map[string]map[crdt.Kind][]byte, len(s.kinds.dirty)),
	}
	for k := range s.dirty {
		cp.states[k], _ = s.objects[k].AppendBinary(nil)
		cp.births[k] = s.kinds.births[k]
	}
	for k := range s.kinds.dirty {
		m := make(map[crdt.Kind][]byte) // empty: none left aside
		for kind, a := range s.kinds.aside[k] {
			m[kind] = encodeAside(a)
		}
		cp.asides[k] = m
	}
	clear(s.dirty)
	clear(s.kinds.dirty)
	through := s.wm.issued()
	s.mu.Unlock()
	var err error
	if s.cfg.hookCheckpoint != nil {
		err = s.cfg.hookCheckpoint()
	}
	if err == nil {
		err = s.disk.checkpoint(cp)
	}
	if err != nil {
		s.metrics.diskErrors.WithLabelValues("checkpoint").Inc()
		s.mu.Lock()
		for k := range cp.states {
			s.dirty[k] = struct{}{}
		}
		for k := range cp.asides {
			s.kinds.dirty[k] = struct{}{}
		}
		s.mu.Unlock()
		return err
	}
	s.wm.doneThrough(through)
	s.failed = false
	s.metrics.checkpoints.Inc()
	return nil
}

// snapshotStates returns the births and encoded states of the given keys
// (all if nil), a clock reading after every stamp in them, and the
// watermark number they reflect: they may be sent to another site
// once s.wm.durable() reaches it.
func (s *Store) snapshotStates(keys []string) (map[string][]byte, crdt.Timestamp, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if keys == nil {
		keys = slices.Collect(maps.Keys(s.objects))
	}
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if o, ok := s.objects[k]; ok {
			// A states item's birth and state (see wire.go).
			out[k], _ = o.AppendBinary(appendStamp(nil, s.kinds.births[k]))
		}
	}
	// A clock reading after every stamp in the states, under the lock.
	return out, s.clock.Now(), s.wm.issued()
}

// wallNow returns the physical time of the configured clock.
func (s *Store) wallNow() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return time.Now()
}

// Addr returns the "host:port" other sites use to join this one, or "" if
// the store runs alone.
func (s *Store) Addr() string {
	if s.gossip == nil {
		return ""
	}
	if n := s.gossip.peer(s.cfg.Name); n != nil {
		return n.Address()
	}
	return s.gossip.ml.LocalNode().Address()
}

// Members returns the names of the sites this one sees alive, itself
// included, sorted; nil if the store runs alone.
func (s *Store) Members() []string {
	if s.gossip == nil {
		return nil
	}
	ns := s.gossip.members()
	slices.Sort(ns)
	return ns
}
