// Package globallimit shares the counts of global rate limits between the
// sites, through the multi-site replica (package replica), so that a rate
// limit holds for all the sites together (docs/flow-control.md, Global
// limits).
//
// Each limit is one replicated map, "duohuo/limit/<name>", with one key
// per site holding "<window> <count>": the one-second window (Unix time)
// and how many requests the site admitted in it so far. A site writes only
// its own key, so the map never conflicts; it writes every flush interval
// while its count changes, and at least once a second, so that the others
// know it is there even when it admits nothing. Every site reads the map
// as the replica delivers it.
//
// The accuracy: a site learns another's count flush + replication lag
// late, so in a window the sites together admit at most the limit plus
// what the others admitted during that delay. With a limit of R per
// second shared by N sites each offered more than R, flush 50ms and a lag
// of a few ms on one machine, that is about R × (N−1)/N × 0.05 extra:
// under 5% (measured in docs/benchmarks.md).
package globallimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

// Prefix is the replica's name prefix of the limits' maps.
const Prefix = "duohuo/limit/"

// Shared holds one site's counters of every global limit. Its methods are
// safe for concurrent use.
type Shared struct {
	rep  *replica.Store
	site string
	log  *slog.Logger
	now  func() time.Time

	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	counters map[string]*Counter

	heard atomic.Pointer[map[string]map[string]seen] // limit → site → its last count
}

// seen is another site's count of one limit as last read.
type seen struct {
	window, count int64
}

// Start starts sharing through rep, under the replica's site name; Close
// stops it. now is the clock of windows; nil means time.Now.
func Start(rep *replica.Store, log *slog.Logger, now func() time.Time) (*Shared, error) {
	if rep == nil {
		return nil, errors.New("globallimit: no replica")
	}
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	s := &Shared{rep: rep, site: rep.Name(), log: log.With("component", "globallimit"), now: now, counters: map[string]*Counter{}, done: make(chan struct{})}
	empty := map[string]map[string]seen{}
	s.heard.Store(&empty)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	events := rep.Watch(ctx, Prefix)
	go s.run(ctx, events)
	return s, nil
}

// Close stops the sharing; the counters then count locally only.
func (s *Shared) Close() {
	s.cancel()
	<-s.done
}

// Counter returns the counter of limit name, made on first use; flush is
// how often its count is written (the shortest of the calls wins).
func (s *Shared) Counter(name string, flush time.Duration) *Counter {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[name]
	if c == nil {
		c = &Counter{s: s, name: name, flush: flush}
		s.counters[name] = c
	} else if flush > 0 && flush < c.flush {
		c.flush = flush
	}
	return c
}

// Counter is one limit's count at this site, and what the others said.
type Counter struct {
	s     *Shared
	name  string
	flush time.Duration // guarded by s.mu

	mu      sync.Mutex
	window  int64 // the window of own
	own     int64
	written struct{ window, count int64 }
	wroteAt time.Time
}

// Add counts n requests admitted here in window.
func (c *Counter) Add(window, n int64) {
	c.mu.Lock()
	if window != c.window {
		c.window, c.own = window, 0
	}
	c.own += n
	c.mu.Unlock()
}

// Own returns what this site admitted in window.
func (c *Counter) Own(window int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if window != c.window {
		return 0
	}
	return c.own
}

// Others returns what the other sites admitted in window, as last heard,
// and how many other sites have been heard from in this window or the one
// before (the others that are there).
func (c *Counter) Others(window int64) (n int64, sites int) {
	for site, v := range (*c.s.heard.Load())[c.name] {
		if site == c.s.site {
			continue
		}
		if v.window >= window-1 {
			sites++
		}
		if v.window == window {
			n += v.count
		}
	}
	return n, sites
}

// run writes the counters every 10ms as their flush intervals say, and
// reads the others' counts as the replica delivers them.
func (s *Shared) run(ctx context.Context, events <-chan replica.Event) {
	defer close(s.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.flush(ctx)
		case ev, ok := <-events:
			if !ok {
				return
			}
			s.read(ev)
		}
	}
}

func (s *Shared) flush(ctx context.Context) {
	now := s.now()
	window := now.Unix()
	s.mu.Lock()
	cs := make([]*Counter, 0, len(s.counters))
	for _, c := range s.counters {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		s.mu.Lock()
		flush := c.flush
		s.mu.Unlock()
		c.mu.Lock()
		w, n := c.window, c.own
		if w != window {
			w, n = window, 0 // a quiet site says it is there
		}
		due := now.Sub(c.wroteAt) >= flush && (w != c.written.window || n != c.written.count)
		c.mu.Unlock()
		if !due {
			continue
		}
		v := strconv.FormatInt(w, 10) + " " + strconv.FormatInt(n, 10)
		err := s.rep.Update(ctx, Prefix+c.name, func(tx *replica.Txn) error {
			tx.Put(s.site, []byte(v))
			return nil
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("global limit count not shared; the other sites see an older one", "limit", c.name, "err", err)
			}
			continue
		}
		c.mu.Lock()
		c.written.window, c.written.count, c.wroteAt = w, n, now
		c.mu.Unlock()
	}
}

func (s *Shared) read(ev replica.Event) {
	name := strings.TrimPrefix(ev.Key, Prefix)
	m, ok := ev.Object.(*crdt.ORMap)
	if !ok {
		s.log.Warn("ignored a global limit object of another kind", "key", ev.Key, "kind", fmt.Sprintf("%T", ev.Object))
		return
	}
	sites := map[string]seen{}
	for _, site := range m.Keys() {
		b, _ := m.Get(site)
		w, n, err := parse(b)
		if err != nil {
			s.log.Warn("ignored a malformed global limit count", "limit", name, "site", site, "err", err)
			continue
		}
		sites[site] = seen{w, n}
	}
	old := *s.heard.Load()
	next := make(map[string]map[string]seen, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = sites
	s.heard.Store(&next)
}

// parse reads "<window> <count>".
func parse(b []byte) (window, count int64, err error) {
	a, c, ok := strings.Cut(string(b), " ")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not \"<window> <count>\"", b)
	}
	if window, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("window %q: %w", a, err)
	}
	if count, err = strconv.ParseInt(c, 10, 64); err != nil || count < 0 {
		return 0, 0, fmt.Errorf("count %q: not a count", c)
	}
	return window, count, nil
}
