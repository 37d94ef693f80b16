package discovery

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AggregatorConfig configures an [Aggregator]. The zero value is ready to
// use.
type AggregatorConfig struct {
	// Logger receives refused updates and source errors. If nil,
	// slog.Default() is used.
	Logger *slog.Logger
	// Now returns the current time for status timestamps. If nil, time.Now
	// is used.
	Now func() time.Time
	// RetryMin and RetryMax bound the backoff between calls to a source's
	// Watch when it returns an error: it starts at RetryMin and doubles up
	// to RetryMax, and starts again at RetryMin after a Watch that had a
	// report accepted. Zero means 1s and 30s.
	RetryMin, RetryMax time.Duration
	// DropShare, DropReports and DropAfter guard against a registry in
	// trouble that answers "no instances" (a restarting member, an
	// outage behind a proxy that answers empty lists): when a report
	// would take away more than DropShare of the instances a source had
	// for a service, that source's previous instances of the service keep
	// serving until the drop is confirmed, by DropReports consecutive
	// reports that keep it (the first included) or once it has lasted
	// DropAfter. A report that takes back the drop ends it. A DropShare
	// of zero (or below) turns the guard off, so the zero value applies
	// every report as it comes; the gateway uses 0.5. Zero DropReports
	// and DropAfter mean 2 and 30s.
	DropShare   float64
	DropReports int
	DropAfter   time.Duration
}

// SourceStatus is what an aggregator knows about one source, for the admin
// API.
type SourceStatus struct {
	Name string `json:"name"`
	// Precedence is the source's rank: 0 wins over 1 when two sources report
	// the same address.
	Precedence int `json:"precedence"`
	Services   int `json:"services"`  // services in the last accepted report
	Instances  int `json:"instances"` // instances in the last accepted report
	// Shadowed counts instances of this source hidden by a source of higher
	// precedence at the last merge.
	Shadowed int `json:"shadowed"`
	// Held counts the services whose last report dropped too many
	// instances at once: their previous instances serve until the drop
	// is confirmed (see AggregatorConfig.DropShare).
	Held       int       `json:"held"`
	Updates    uint64    `json:"updates"` // accepted reports
	Refused    uint64    `json:"refused"` // refused reports and Fail calls
	LastUpdate time.Time `json:"last_update,omitzero"`
	// Stale is true when the latest report was an error: the source's last
	// good report is serving.
	Stale       bool      `json:"stale"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Err         error     `json:"-"` // the latest error, for errors.Is
}

// Aggregator merges the reports of several sources into one immutable
// [ServiceView] per service.
//
// Precedence: sources rank in the order they were added, first highest.
// Instances are de-duplicated by address: when two sources report the same
// address for a service, the instance of the higher-ranked source is
// published as is (ID, weight, locality, labels) and the other is dropped.
// An instance whose ID is already taken by a higher-ranked source's instance
// at another address is dropped too.
//
// Views are published with an atomic swap: [Aggregator.View] never blocks and
// never allocates, and a view once returned never changes. All methods are
// safe for concurrent use.
type Aggregator struct {
	log      *slog.Logger
	now      func() time.Time
	retryMin time.Duration
	retryMax time.Duration

	dropShare   float64 // <= 0: no guard
	dropReports int
	dropAfter   time.Duration

	views atomic.Pointer[map[string]*ServiceView] // replaced wholesale

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // guards the fields below; held by writers only
	sources []*sourceState
	subs    map[chan struct{}]struct{}
	rev     uint64
	closed  bool
}

type sourceState struct {
	src    Source
	cancel context.CancelFunc
	done   chan struct{}

	// Guarded by Aggregator.mu.
	removed    bool
	services   map[string][]Instance // last accepted report, normalized, sorted by ID
	shadowedBy map[string]int        // service → instances hidden at its last merge
	held       map[string]*heldDrop  // service → a drop awaiting confirmation
	status     SourceStatus
}

// heldDrop is a report of one source for one service that dropped too many
// instances at once, not applied yet. Guarded by Aggregator.mu.
type heldDrop struct {
	reports int         // consecutive reports that kept the drop
	list    []Instance  // the latest of them
	present bool        // false: the latest withdrew the service
	timer   *time.Timer // confirms the drop at DropAfter
}

// NewAggregator returns an Aggregator with no sources. Close it to stop the
// sources it runs.
func NewAggregator(cfg AggregatorConfig) *Aggregator {
	a := &Aggregator{
		log:      cfg.Logger,
		now:      cfg.Now,
		retryMin: cmp.Or(cfg.RetryMin, time.Second),
		retryMax: cmp.Or(cfg.RetryMax, 30*time.Second),

		dropShare:   cfg.DropShare,
		dropReports: cmp.Or(cfg.DropReports, 2),
		dropAfter:   cmp.Or(cfg.DropAfter, 30*time.Second),
		subs:        make(map[chan struct{}]struct{}),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.retryMax = max(a.retryMax, a.retryMin)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	empty := map[string]*ServiceView{}
	a.views.Store(&empty)
	return a
}

// Add starts src at the lowest precedence so far. It returns
// [ErrDuplicateSource] if a source with the same name runs already and
// [ErrClosed] after Close.
func (a *Aggregator) Add(src Source) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	name := src.Name()
	if a.find(name) != nil {
		return fmt.Errorf("add %q: %w", name, ErrDuplicateSource)
	}
	ctx, cancel := context.WithCancel(a.ctx)
	st := &sourceState{src: src, cancel: cancel, done: make(chan struct{})}
	st.status.Name = name
	a.sources = append(a.sources, st)
	a.reindex()
	a.wg.Go(func() {
		defer close(st.done)
		a.run(ctx, st)
	})
	return nil
}

// Remove stops the named source, waits for its Watch to return and
// withdraws what it reported. It returns [ErrUnknownSource] if no such
// source runs.
func (a *Aggregator) Remove(name string) error {
	a.mu.Lock()
	st := a.find(name)
	if st == nil {
		a.mu.Unlock()
		return fmt.Errorf("remove %q: %w", name, ErrUnknownSource)
	}
	st.removed = true
	st.stopHeld()
	st.cancel()
	a.sources = slices.DeleteFunc(a.sources, func(s *sourceState) bool { return s == st })
	a.reindex()
	a.publish(slices.Collect(maps.Keys(st.services)))
	a.mu.Unlock()
	<-st.done
	return nil
}

// Close stops every source, waits for their Watch calls to return and
// closes every subscription channel. Views stay readable. Close is
// idempotent and always returns nil.
func (a *Aggregator) Close() error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		a.cancel()
		for _, st := range a.sources {
			st.stopHeld()
		}
		for ch := range a.subs {
			close(ch)
			delete(a.subs, ch)
		}
	}
	a.mu.Unlock()
	a.wg.Wait()
	return nil
}

// View returns the current view of service, or nil if no source reports
// it. It does not block or allocate; the view must not be modified.
func (a *Aggregator) View(service string) *ServiceView {
	return (*a.views.Load())[service]
}

// Views returns the current view of every service, sorted by service name.
func (a *Aggregator) Views() []*ServiceView {
	m := *a.views.Load()
	out := make([]*ServiceView, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(x, y *ServiceView) int { return cmp.Compare(x.Service, y.Service) })
	return out
}

// Subscribe returns a channel that receives a value after one or more
// views change. Sends are coalesced (the channel has a buffer of one and
// never blocks the aggregator), so a receiver re-reads the views it cares
// about and compares revisions. The channel is closed by cancel or by
// Close. cancel is idempotent.
func (a *Aggregator) Subscribe() (changes <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		close(ch)
		return ch, func() {}
	}
	a.subs[ch] = struct{}{}
	return ch, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
			close(ch)
		}
	}
}

// Status returns the status of every source, in precedence order.
func (a *Aggregator) Status() []SourceStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]SourceStatus, len(a.sources))
	for i, st := range a.sources {
		out[i] = st.status
	}
	return out
}

// run calls st's Watch until ctx is done, with a backoff between failures.
// The backoff starts again from RetryMin after a Watch that got a report
// accepted, so a source that worked for hours and then broke is retried
// promptly.
func (a *Aggregator) run(ctx context.Context, st *sourceState) {
	u := updater{a: a, st: st}
	backoff := a.retryMin
	for {
		before := a.updates(st)
		err := st.src.Watch(ctx, u)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			return // finished; its reports stay
		}
		if a.updates(st) != before {
			backoff = a.retryMin
		}
		u.Fail(fmt.Errorf("watch: %w", err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, a.retryMax)
	}
}

func (a *Aggregator) updates(st *sourceState) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return st.status.Updates
}

// updater is the Updater handed to one source.
type updater struct {
	a  *Aggregator
	st *sourceState
}

var _ Updater = updater{}

func (u updater) Update(services map[string][]Instance) error {
	name := u.st.src.Name()
	clean, err := normalize(name, services)
	a := u.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || u.st.removed {
		return ErrClosed
	}
	if err != nil {
		u.failLocked(err)
		return err
	}
	changed := make([]string, 0, len(clean)+len(u.st.services))
	for s := range clean {
		changed = append(changed, s)
	}
	for s := range u.st.services {
		if _, ok := clean[s]; !ok {
			changed = append(changed, s)
		}
	}
	a.guardDrops(u.st, clean)
	u.st.services = clean
	u.st.count()
	st := &u.st.status
	st.Updates++
	st.LastUpdate = a.now()
	st.Stale = false
	a.publish(changed)
	return nil
}

// count refreshes the status's counts from what st serves. Called with
// Aggregator.mu held.
func (st *sourceState) count() {
	n := 0
	for _, ins := range st.services {
		n += len(ins)
	}
	st.status.Services, st.status.Instances, st.status.Held = len(st.services), n, len(st.held)
}

// SetDropGuard changes the drop guard (see AggregatorConfig: share <= 0
// turns it off, zero reports and after mean 2 and 30s) for the reports
// that come next; drops held already keep the timers they have.
func (a *Aggregator) SetDropGuard(share float64, reports int, after time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropShare = share
	a.dropReports = cmp.Or(reports, 2)
	a.dropAfter = cmp.Or(after, 30*time.Second)
}

// guardDrops holds back, in next (st's new report), every service whose
// instances drop by more than the drop share from what st serves now: the
// current instances stay in next until the drop is confirmed. A service
// whose report no longer drops too much ends its hold. Called with a.mu
// held.
func (a *Aggregator) guardDrops(st *sourceState, next map[string][]Instance) {
	if a.dropShare <= 0 {
		// The guard was turned off (SetDropGuard): drops held before
		// end, and the report applies as it is.
		for svc, h := range st.held {
			h.timer.Stop()
			delete(st.held, svc)
		}
		return
	}
	for svc, h := range st.held {
		if list, ok := next[svc]; ok && !a.tooLarge(len(st.services[svc]), len(list)) {
			h.timer.Stop()
			delete(st.held, svc)
			a.log.Info("discovery source's instances are back; the held drop is over",
				slog.String("source", st.status.Name), slog.String("service", svc))
		}
	}
	for svc, cur := range st.services {
		list, present := next[svc]
		if !a.tooLarge(len(cur), len(list)) {
			continue
		}
		h := st.held[svc]
		if h == nil {
			h = &heldDrop{}
			if st.held == nil {
				st.held = map[string]*heldDrop{}
			}
			st.held[svc] = h
			h.timer = time.AfterFunc(a.dropAfter, func() { a.confirmDrop(st, svc, h) })
			a.log.Warn("discovery source dropped most instances of a service at once; serving the previous ones until the drop is confirmed",
				slog.String("source", st.status.Name), slog.String("service", svc),
				slog.Int("had", len(cur)), slog.Int("now", len(list)),
				slog.Int("confirm_reports", a.dropReports), slog.Duration("confirm_after", a.dropAfter))
		}
		h.reports++
		h.list, h.present = list, present
		if h.reports >= a.dropReports {
			h.timer.Stop()
			delete(st.held, svc)
			a.log.Warn("discovery source's drop confirmed; applying it",
				slog.String("source", st.status.Name), slog.String("service", svc), slog.Int("now", len(list)))
			continue
		}
		next[svc] = cur
	}
}

// tooLarge reports whether going from had to now instances drops more than
// the drop share.
func (a *Aggregator) tooLarge(had, now int) bool {
	return had > now && float64(had-now) > a.dropShare*float64(had)
}

// confirmDrop applies h, st's held drop of svc, once it has lasted
// DropAfter.
func (a *Aggregator) confirmDrop(st *sourceState, svc string, h *heldDrop) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || st.removed || st.held[svc] != h {
		return
	}
	delete(st.held, svc)
	if h.present {
		st.services[svc] = h.list
	} else {
		delete(st.services, svc)
	}
	st.count()
	a.log.Warn("discovery source's drop lasted; applying it",
		slog.String("source", st.status.Name), slog.String("service", svc), slog.Int("now", len(h.list)))
	a.publish([]string{svc})
}

// stopHeld stops the timers of st's held drops. Called with
// Aggregator.mu held.
func (st *sourceState) stopHeld() {
	for _, h := range st.held {
		h.timer.Stop()
	}
}

func (u updater) Fail(err error) {
	if err == nil {
		return
	}
	u.a.mu.Lock()
	defer u.a.mu.Unlock()
	if u.a.closed || u.st.removed {
		return
	}
	u.failLocked(err)
}

func (u updater) failLocked(err error) {
	st := &u.st.status
	st.Refused++
	st.Stale = true
	st.Err = err
	st.LastError = err.Error()
	st.LastErrorAt = u.a.now()
	u.a.log.Warn("discovery source error; keeping its last good report",
		slog.String("source", st.Name), slog.Any("err", err))
}

// normalize validates a report and returns a private copy: IDs and Source
// filled in, each list sorted by ID.
func normalize(source string, services map[string][]Instance) (map[string][]Instance, error) {
	out := make(map[string][]Instance, len(services))
	for svc, list := range services {
		if err := CheckService(svc); err != nil {
			return nil, &UpdateError{Source: source, Service: svc, Index: -1, Err: err}
		}
		cp := make([]Instance, len(list))
		ids := make(map[string]int, len(list))
		addrs := make(map[[18]byte]int, len(list))
		for i, in := range list {
			if err := in.Validate(); err != nil {
				return nil, &UpdateError{Source: source, Service: svc, Index: i, ID: cmp.Or(in.ID, in.Addr.String()), Err: err}
			}
			if in.ID == "" {
				in.ID = AddrID(in.Addr)
			}
			in.Source = source
			in.Labels = maps.Clone(in.Labels)
			in.Metadata = maps.Clone(in.Metadata)
			if j, dup := ids[in.ID]; dup {
				return nil, &UpdateError{Source: source, Service: svc, Index: i, ID: in.ID,
					Err: fmt.Errorf("%w: id %q also at instance %d", ErrDuplicate, in.ID, j)}
			}
			ids[in.ID] = i
			k := addrKey(in)
			if j, dup := addrs[k]; dup {
				return nil, &UpdateError{Source: source, Service: svc, Index: i, ID: in.ID,
					Err: fmt.Errorf("%w: address %s also at instance %d", ErrDuplicate, in.Addr, j)}
			}
			addrs[k] = i
			cp[i] = in
		}
		slices.SortFunc(cp, func(x, y Instance) int { return cmp.Compare(x.ID, y.ID) })
		out[svc] = cp
	}
	return out, nil
}

// addrKey is a comparable form of an instance's address: 16 bytes of IP
// (IPv4 mapped, so 10.0.0.1 and ::ffff:10.0.0.1 are one address) and the
// port. The IPv6 zone is ignored.
func addrKey(in Instance) [18]byte {
	var k [18]byte
	ip := in.Addr.Addr().Unmap().As16()
	copy(k[:16], ip[:])
	p := in.Addr.Port()
	k[16], k[17] = byte(p>>8), byte(p)
	return k
}

// publish re-merges services and swaps in a new view map if any of them
// changed, then wakes subscribers. Called with a.mu held.
func (a *Aggregator) publish(services []string) {
	old := *a.views.Load()
	var next map[string]*ServiceView
	for _, svc := range services {
		v, ok := a.merge(svc, old[svc])
		if v == old[svc] && ok == (old[svc] != nil) {
			continue
		}
		if next == nil {
			next = maps.Clone(old)
		}
		if ok {
			next[svc] = v
		} else {
			delete(next, svc)
		}
	}
	if next == nil {
		return
	}
	a.views.Store(&next)
	for ch := range a.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// merge builds the view of svc from every source, in precedence order. It
// returns prev when nothing changed, and ok=false when no source reports
// svc. Called with a.mu held.
func (a *Aggregator) merge(svc string, prev *ServiceView) (v *ServiceView, ok bool) {
	var n int
	for _, st := range a.sources {
		if list, has := st.services[svc]; has {
			ok = true
			n += len(list)
		}
	}
	if !ok {
		return nil, false
	}
	// Pass 1, in precedence order: which instances survive
	// de-duplication.
	lists := make([][]Instance, 0, len(a.sources))
	keep := make([][]bool, 0, len(a.sources))
	seenAddr := make(map[[18]byte]struct{}, n)
	seenID := make(map[string]struct{}, n)
	kept := 0
	for _, st := range a.sources {
		list, has := st.services[svc]
		if !has {
			continue
		}
		k := make([]bool, len(list))
		shadowed := 0
		for i, in := range list {
			ak := addrKey(in)
			_, dupA := seenAddr[ak]
			_, dupI := seenID[in.ID]
			if dupA || dupI {
				shadowed++
				continue
			}
			seenAddr[ak] = struct{}{}
			seenID[in.ID] = struct{}{}
			k[i] = true
			kept++
		}
		st.shadow(svc, shadowed)
		lists, keep = append(lists, list), append(keep, k)
	}
	// Pass 2: every list is sorted by ID and kept IDs are unique, so a
	// k-way merge of the heads yields the view sorted, without sorting
	// (k, the sources reporting svc, is small).
	out := make([]Instance, 0, kept)
	pos := make([]int, len(lists))
	for {
		best := -1
		for j, list := range lists {
			for pos[j] < len(list) && !keep[j][pos[j]] {
				pos[j]++
			}
			if pos[j] < len(list) && (best < 0 || list[pos[j]].ID < lists[best][pos[best]].ID) {
				best = j
			}
		}
		if best < 0 {
			break
		}
		out = append(out, lists[best][pos[best]])
		pos[best]++
	}
	if prev != nil && slices.EqualFunc(prev.Instances, out, Instance.equal) {
		return prev, true
	}
	a.rev++
	return &ServiceView{Service: svc, Instances: out, Revision: a.rev}, true
}

// shadow records how many of st's instances of svc were hidden.
func (st *sourceState) shadow(svc string, n int) {
	if st.shadowedBy == nil {
		st.shadowedBy = make(map[string]int)
	}
	if n == 0 {
		delete(st.shadowedBy, svc)
	} else {
		st.shadowedBy[svc] = n
	}
	total := 0
	for s, c := range st.shadowedBy {
		if _, has := st.services[s]; has {
			total += c
		}
	}
	st.status.Shadowed = total
}

// find returns the running source called name, or nil. Called with a.mu
// held.
func (a *Aggregator) find(name string) *sourceState {
	for _, st := range a.sources {
		if st.status.Name == name {
			return st
		}
	}
	return nil
}

// reindex renumbers precedence after a change of the source list. No
// re-merge is needed: a source added last shadows nobody until it reports,
// and Remove re-merges the services the removed source reported. Called
// with a.mu held.
func (a *Aggregator) reindex() {
	for i, st := range a.sources {
		st.status.Precedence = i
	}
}
