// Package graysync replicates the run-time gray policies of a gateway
// (package gray's Store) to every gateway of every site, through the
// multi-site replica (package replica).
//
// Each route's policy is one last-writer-wins register in the replica,
// named "duohuo/gray/<route>", holding the policy that a run-time change
// made live (an apply, a rollback, or a delete: no policy) with who made
// it, why, when and at which site. A Sync writes a register when its own
// Store changes at run time, and applies the registers other sites write:
//
//   - What the configuration file says is file-owned: a change loaded from
//     the file (Meta.Who "config-file") is not written, so each site's file
//     stays the source for what it says; a run-time change, local or from
//     another site, is applied over it, as an admin API change is.
//   - Concurrent changes of one route at two sites resolve by the replica's
//     rule for registers: the later hybrid logical clock wins, everywhere;
//     a site whose change lost applies the winner and says so in a warning
//     log line and in the change's comment (the loser is told).
//   - A policy from another site is validated like a local one (compiled
//     by the Store) and only for a route this gateway serves; one that
//     fails is refused, counted and logged, never applied. It is applied
//     once per register write (stamp), so a later change of the local
//     file is not overridden again by an old register.
//   - During a partition each side keeps its last state and accepts local
//     changes; when it heals the registers converge, and with them the
//     policies.
package graysync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/replica"
)

// Prefix is the replica's name prefix of the gray registers.
const Prefix = "duohuo/gray/"

// fileWho is the Meta.Who of the changes the gateway loads from the
// configuration file (internal/gateway).
const fileWho = "config-file"

// remotePrefix starts the Meta.Who of the changes applied from another
// site: "site:<site> <who>".
const remotePrefix = "site:"

// Config configures a [Sync].
type Config struct {
	Gray    *gray.Store
	Replica *replica.Store
	// Site names this site in the registers it writes; if empty, the
	// replica's name.
	Site string
	// Routes returns the names of the routes this gateway serves; a
	// policy from another site for any other route is refused (counted as
	// unknown_route). Nil accepts every route.
	Routes func() []string
	// Logger receives the changes applied from other sites, the refused
	// ones and lost conflicts. If nil, slog.Default().
	Logger *slog.Logger
	// Observe, if set, is told of every register written ("out") or read
	// ("in") with its result: ok, invalid, unknown_route, replaced_local
	// (a register replaced this site's own run-time change) or error.
	Observe func(direction, result string)
}

// record is a register's value.
type record struct {
	Site     string       `json:"site"`
	Who      string       `json:"who,omitempty"`
	Comment  string       `json:"comment,omitempty"`
	When     time.Time    `json:"when"`
	Kind     string       `json:"kind"`     // apply, delete or rollback
	Revision uint64       `json:"revision"` // at the writing site
	Policy   *gray.Policy `json:"policy"`   // nil: no policy
}

// Sync replicates one Store. Its methods are safe for concurrent use.
type Sync struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	synced map[string]uint64     // route → the local revision last handled
	remote map[string]uint64     // route → the local revision made by applying a register
	seen   map[string]crdt.Stamp // route → the register stamp last applied or skipped
	counts map[string]int        // "in/ok" … for Counts
}

// Start starts replicating; Close stops it. It returns at once: the
// current registers are applied in the background.
func Start(cfg Config) (*Sync, error) {
	if cfg.Gray == nil || cfg.Replica == nil {
		return nil, errors.New("graysync: Gray and Replica are required")
	}
	if cfg.Site == "" {
		cfg.Site = cfg.Replica.Name()
	}
	s := &Sync{
		cfg: cfg, log: cfg.Logger, done: make(chan struct{}),
		synced: map[string]uint64{}, remote: map[string]uint64{}, seen: map[string]crdt.Stamp{}, counts: map[string]int{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "graysync", "site", cfg.Site)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	// What is live when the sync starts was loaded from the file or
	// restored before: only later run-time changes are written.
	for _, route := range cfg.Gray.Routes() {
		if c, ok := cfg.Gray.Get(route); ok {
			s.synced[route] = c.Change.Revision
		}
	}
	go s.run(ctx)
	return s, nil
}

// Close stops the sync and waits for its goroutine.
func (s *Sync) Close() {
	s.cancel()
	<-s.done
}

// Counts returns how many registers were written ("out/ok", …) and read
// ("in/ok", "in/invalid", …) so far.
func (s *Sync) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

func (s *Sync) count(direction, result string) {
	s.mu.Lock()
	s.counts[direction+"/"+result]++
	s.mu.Unlock()
	if s.cfg.Observe != nil {
		s.cfg.Observe(direction, result)
	}
}

// run is the one goroutine: local changes out, registers in, one at a
// time, so that the two directions never race.
func (s *Sync) run(ctx context.Context) {
	defer close(s.done)
	events := s.cfg.Replica.Watch(ctx, Prefix)
	changed := s.cfg.Gray.Changed()
	s.writeLocal(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			changed = s.cfg.Gray.Changed()
			s.writeLocal(ctx)
		case ev, ok := <-events:
			if !ok {
				return // the replica closed
			}
			s.apply(ev)
		}
	}
}

// writeLocal writes a register for every route whose live change is a
// local run-time change not written yet.
func (s *Sync) writeLocal(ctx context.Context) {
	routes := s.cfg.Gray.Routes()
	s.mu.Lock()
	for r := range s.synced {
		if !slices.Contains(routes, r) {
			routes = append(routes, r)
		}
	}
	s.mu.Unlock()
	for _, route := range routes {
		var c gray.Change
		if cur, ok := s.cfg.Gray.Get(route); ok {
			c = cur.Change
		} else if h := s.cfg.Gray.History(route); len(h) > 0 {
			c = h[len(h)-1] // a delete leaves the route out of the live set
		} else {
			continue
		}
		s.mu.Lock()
		done := c.Revision <= s.synced[route] || c.Revision == s.remote[route]
		s.synced[route] = max(s.synced[route], c.Revision)
		s.mu.Unlock()
		if done || c.Who == fileWho || strings.HasPrefix(c.Who, remotePrefix) {
			continue
		}
		rec := record{Site: s.cfg.Site, Who: c.Who, Comment: c.Comment, When: c.When, Kind: c.Kind, Revision: c.Revision, Policy: c.Policy}
		b, err := json.Marshal(rec)
		if err == nil {
			err = s.cfg.Replica.Update(ctx, Prefix+route, func(tx *replica.Txn) error {
				tx.Set(b)
				return nil
			})
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("gray policy not replicated; other sites keep theirs", "route", route, "revision", c.Revision, "err", err)
				s.count("out", "error")
			}
			continue
		}
		s.count("out", "ok")
	}
}

// apply applies one register written by another site.
func (s *Sync) apply(ev replica.Event) {
	route := strings.TrimPrefix(ev.Key, Prefix)
	reg, ok := ev.Object.(*crdt.LWWRegister)
	if !ok {
		s.log.Warn("refused a gray register of another kind", "key", ev.Key, "kind", fmt.Sprintf("%T", ev.Object))
		s.count("in", "invalid")
		return
	}
	value, stamp := reg.Get()
	s.mu.Lock()
	old, had := s.seen[route]
	if had && stamp.Compare(old) <= 0 {
		s.mu.Unlock()
		return
	}
	s.seen[route] = stamp
	s.mu.Unlock()
	if stamp.Replica == s.cfg.Replica.Replica() {
		return // our own write
	}
	var rec record
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		s.log.Warn("refused a gray policy from another site: not a policy record", "route", route, "err", err)
		s.count("in", "invalid")
		return
	}
	if s.cfg.Routes != nil && !slices.Contains(s.cfg.Routes(), route) {
		s.log.Warn("refused a gray policy from another site for a route this gateway does not serve", "route", route, "from", rec.Site)
		s.count("in", "unknown_route")
		return
	}
	meta := gray.Meta{Who: remotePrefix + rec.Site + " " + rec.Who, Comment: rec.Comment}
	result := "ok"
	if cur, ok := s.cfg.Gray.Get(route); ok {
		c := cur.Change
		s.mu.Lock()
		ours := c.Revision != s.remote[route] && c.Who != fileWho && !strings.HasPrefix(c.Who, remotePrefix)
		s.mu.Unlock()
		if ours && !samePolicy(c.Policy, rec.Policy) {
			// This site's own run-time change is live and another site's
			// register replaces it: the two were made concurrently and
			// this one lost by the replica's rule, or the other came
			// later. Either way the site is told.
			meta.Comment = strings.TrimSpace(fmt.Sprintf("%s (replaced this site's revision %d by %s: the later change wins across sites)", rec.Comment, c.Revision, c.Who))
			s.log.Warn("gray policy replaced by another site's change; the later change wins across sites",
				"route", route, "from", rec.Site, "by", rec.Who, "replaced_revision", c.Revision, "replaced_by", c.Who)
			result = "replaced_local"
		}
	}
	var c gray.Change
	var err error
	if rec.Policy == nil {
		c, err = s.cfg.Gray.Delete(route, 0, meta)
		if errors.Is(err, gray.ErrNoRoute) {
			err = nil // already without a policy
		}
	} else {
		c, err = s.cfg.Gray.Apply(route, *rec.Policy, 0, meta)
	}
	if err != nil {
		s.log.Warn("refused a gray policy from another site", "route", route, "from", rec.Site, "by", rec.Who, "err", err)
		s.count("in", "invalid")
		return
	}
	s.mu.Lock()
	s.remote[route] = c.Revision
	s.synced[route] = max(s.synced[route], c.Revision)
	s.mu.Unlock()
	s.log.Info("gray policy applied from another site", "route", route, "from", rec.Site, "by", rec.Who, "kind", rec.Kind, "revision", c.Revision)
	s.count("in", result)
}

func samePolicy(a, b *gray.Policy) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
