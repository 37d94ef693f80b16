package fault

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/request"
)

// The request headers that drive a rule whose Spec has HeaderTrigger set,
// after Envoy's x-envoy-fault-* headers. Clients that do not send them are
// never faulted by such a rule.
const (
	// HeaderDelay asks for a delay in milliseconds, at most the rule's
	// Delay.Duration (larger values are clamped to it).
	HeaderDelay = "x-duohuo-fault-delay-request"
	// HeaderDelayPercent lowers the rule's delay percentage for this request.
	HeaderDelayPercent = "x-duohuo-fault-delay-request-percentage"
	// HeaderAbort asks for an abort: an HTTP status in [200, 600), or
	// "reset". An invalid value uses the rule's own abort.
	HeaderAbort = "x-duohuo-fault-abort-request"
	// HeaderAbortPercent lowers the rule's abort percentage for this request.
	HeaderAbortPercent = "x-duohuo-fault-abort-request-percentage"
	// HeaderInjected is set on responses the filter wrote itself ("abort").
	HeaderInjected = "x-duohuo-fault"
)

// Kind names what the filter did to a request, for an [Observer].
type Kind uint8

// The kinds of injected fault.
const (
	KindDelay    Kind = iota // the request was delayed
	KindAbort                // the request was answered with an error status
	KindReset                // the request's connection was reset
	KindOverflow             // a fault was due but MaxActive was reached
	numKinds
)

var kindNames = [numKinds]string{"delay", "abort", "reset", "overflow"}

// String returns "delay", "abort", "reset" or "overflow".
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Observer is told about every injected fault, e.g. to count it in a metric
// labelled by rule and kind. Injected is called on the request path, from
// many goroutines at once: it must be safe for concurrent use and must not
// block.
type Observer interface {
	Injected(rule string, kind Kind)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(rule string, kind Kind)

// Injected calls f(rule, kind).
func (f ObserverFunc) Injected(rule string, kind Kind) { f(rule, kind) }

// Options configures a [Filter]. The zero Options is valid.
type Options struct {
	// Rand returns a uniform number in [0, 1) for percentage sampling. It
	// must be safe for concurrent use. Nil means math/rand/v2.Float64; tests
	// inject a scripted source to make sampling deterministic. A percentage
	// of 100 does not draw.
	Rand func() float64
	// Observer, if not nil, is told about every injected fault.
	Observer Observer
	// TrustedPeer reports whether the direct peer at an address may ask
	// for faults with the x-duohuo-fault-* headers (rules with
	// Spec.HeaderTrigger); it must be safe for concurrent use. From any
	// other peer the headers are ignored, and [Filter.Handler] removes
	// them, so that a next hop that trusts this one is not faulted
	// either. Nil trusts no peer: header-triggered rules then never fire.
	// The gateway trusts the peers it believes about traffic colors.
	TrustedPeer func(peer netip.Addr) bool
}

// Filter decides, per request, whether to inject a fault, from a [Table]
// that can be replaced at any time. It is off (injects nothing) until a
// Table with rules is set.
//
// The table comes in two layers. [Filter.Update] sets the file's layer
// (what a configuration file says, applied again on every reload);
// [Filter.SetRule], [Filter.DeleteRule] and [Filter.Replace] change the
// run-time layer (the admin API's changes, a drill's faults), which a
// reload of the file's layer keeps: a run-time rule replaces the file's
// rule of its name, a deleted file rule stays deleted, and [Filter.Revert]
// drops every run-time change. The rules in force are the run-time rules,
// in the order they were set, then the file's rules that were neither
// replaced nor deleted.
//
// All methods are safe for concurrent use. [Filter.Decide] reads an
// immutable snapshot through an atomic pointer and takes no lock; the
// methods that change the table serialise among themselves.
type Filter struct {
	rand    func() float64
	obs     Observer
	trusted func(netip.Addr) bool // nil: no one

	table  atomic.Pointer[published] // in force; never nil after New
	active atomic.Int64              // faults in progress, for MaxActive
	counts [numKinds]atomic.Uint64

	mu        sync.Mutex      // serialises changes; guards the fields below
	file      Table           // the file's layer
	runtime   []timedRule     // rules set at run time, in order
	removed   map[string]bool // file rules deleted at run time
	maxActive *int            // MaxActive set at run time (Replace), nil: the file's
	expiry    *time.Timer     // fires at the earliest run-time rule's expiry
}

// published is the table in force, with each rule's expiry (zero: none).
type published struct {
	Table
	expires  []time.Time // by rule index
	expiring bool        // some rule expires: Decide reads the clock
}

// timedRule is a run-time rule and when it expires (zero: never).
type timedRule struct {
	Rule
	expires time.Time
}

// New returns a Filter with an empty table.
func New(opts Options) *Filter {
	f := &Filter{rand: opts.Rand, obs: opts.Observer, trusted: opts.TrustedPeer, removed: map[string]bool{}}
	if f.rand == nil {
		f.rand = rand.Float64
	}
	f.table.Store(&published{})
	return f
}

// Update validates t and, if it is valid, makes it the file's layer;
// run-time changes stay in force over it (see [Filter]). Requests already
// decided are not affected. On error nothing changes.
func (f *Filter) Update(t Table) error {
	if err := t.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.file = t.clone()
	f.publishLocked()
	return nil
}

// Replace makes t the table in force, as a run-time change: its rules
// become the run-time layer, the file's rules are deleted at run time, and
// its MaxActive replaces the file's. A later [Filter.Update] of the file's
// layer changes nothing in force until [Filter.Revert].
func (f *Filter) Replace(t Table) error { return f.ReplaceFor(t, 0) }

// ReplaceFor is [Filter.Replace] with rules that expire after ttl (0:
// never). MaxActive and the deleted file rules stay until [Filter.Revert].
func (f *Filter) ReplaceFor(t Table, ttl time.Duration) error {
	if err := t.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := t.clone()
	f.runtime = f.runtime[:0]
	for _, r := range c.Rules {
		tr := timedRule{Rule: r}
		if ttl > 0 {
			tr.expires = time.Now().Add(ttl)
		}
		f.runtime = append(f.runtime, tr)
	}
	clear(f.removed)
	for _, r := range f.file.Rules {
		f.removed[r.Name] = true
	}
	m := c.MaxActive
	f.maxActive = &m
	f.publishLocked()
	return nil
}

// Revert drops every run-time change: the file's layer is in force again.
func (f *Filter) Revert() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runtime, f.maxActive = nil, nil
	clear(f.removed)
	f.publishLocked()
}

// publishLocked stores the table in force, made from the two layers,
// after dropping the run-time rules that expired, and arms the timer of the
// next expiry.
func (f *Filter) publishLocked() {
	now := time.Now()
	var next time.Time
	kept := f.runtime[:0]
	for _, r := range f.runtime {
		if !r.expires.IsZero() && !now.Before(r.expires) {
			continue // expired: gone, and a file rule it replaced is back
		}
		if !r.expires.IsZero() && (next.IsZero() || r.expires.Before(next)) {
			next = r.expires
		}
		kept = append(kept, r)
	}
	f.runtime = kept
	if f.expiry != nil {
		f.expiry.Stop()
		f.expiry = nil
	}
	if !next.IsZero() {
		f.expiry = time.AfterFunc(next.Sub(now), func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.publishLocked()
		})
	}
	t := Table{MaxActive: f.file.MaxActive}
	if f.maxActive != nil {
		t.MaxActive = *f.maxActive
	}
	var expires []time.Time
	names := make(map[string]bool, len(f.runtime))
	for _, r := range f.runtime {
		t.Rules = append(t.Rules, r.Rule)
		expires = append(expires, r.expires)
		names[r.Name] = true
	}
	for _, r := range f.file.Rules {
		if !names[r.Name] && !f.removed[r.Name] {
			t.Rules = append(t.Rules, r)
			expires = append(expires, time.Time{})
		}
	}
	f.table.Store(&published{Table: t.clone(), expires: expires, expiring: !next.IsZero()})
}

// Table returns a copy of the table in force.
func (f *Filter) Table() Table { return f.table.Load().Table.clone() }

// Expiries returns when each expiring run-time rule ends, by name.
func (f *Filter) Expiries() map[string]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]time.Time{}
	for _, r := range f.runtime {
		if !r.expires.IsZero() {
			out[r.Name] = r.expires
		}
	}
	return out
}

// Changes lists the run-time layer: the names of the rules set at run
// time, and of the file's rules deleted at run time, both sorted.
func (f *Filter) Changes() (set, deleted []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.runtime {
		set = append(set, r.Name)
	}
	for name := range f.removed {
		deleted = append(deleted, name)
	}
	slices.Sort(set)
	slices.Sort(deleted)
	return set, deleted
}

// SetRule adds r to the run-time layer, or replaces the rule of the same
// name there in place; a file rule of that name is overridden until
// [Filter.Revert]. It lasts until it is changed; see [Filter.SetRuleFor].
func (f *Filter) SetRule(r Rule) error { return f.SetRuleFor(r, 0) }

// SetRuleFor is [Filter.SetRule] for a rule that expires after ttl (0:
// never): it is then removed, and a file rule it replaced is back, as a
// fault injected for a drill must not outlive the drill.
func (f *Filter) SetRuleFor(r Rule, ttl time.Duration) error {
	if err := r.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := timedRule{Rule: Table{Rules: []Rule{r}}.clone().Rules[0]}
	if ttl > 0 {
		c.expires = time.Now().Add(ttl)
	}
	replaced := false
	for i := range f.runtime {
		if f.runtime[i].Name == r.Name {
			f.runtime[i], replaced = c, true
			break
		}
	}
	if !replaced {
		f.runtime = append(f.runtime, c)
	}
	delete(f.removed, r.Name)
	f.publishLocked()
	return nil
}

// DeleteRule takes the rule called name out of force, or returns
// [ErrNoRule]: a run-time rule is removed, a file rule is deleted at run
// time (it stays out across reloads until [Filter.Revert]).
func (f *Filter) DeleteRule(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	found := false
	for i := range f.runtime {
		if f.runtime[i].Name == name {
			f.runtime = slices.Delete(f.runtime, i, i+1)
			found = true
			break
		}
	}
	for _, r := range f.file.Rules {
		if r.Name == name {
			f.removed[name] = true
			found = true
			break
		}
	}
	if !found {
		return ErrNoRule
	}
	f.publishLocked()
	return nil
}

// Decision is what the filter decided for one request. The zero Decision
// injects nothing. When [Decision.Faulty] is true the caller must apply it
// (wait Delay, then abort if Status or Reset is set, else pass the request
// on) and call [Decision.Done] once when the request is finished.
type Decision struct {
	Rule   string        // name of the rule that fired
	Delay  time.Duration // delay before anything else; 0 for none
	Status int           // answer with this status instead of passing on; 0 for none
	Reset  bool          // reset the connection instead of passing on

	active *atomic.Int64
}

// Faulty reports whether d injects anything.
func (d Decision) Faulty() bool { return d.Delay > 0 || d.Status != 0 || d.Reset }

// Done releases the fault's slot under MaxActive. Call it exactly once for a
// faulty Decision; it does nothing for the zero Decision.
func (d Decision) Done() {
	if d.active != nil {
		d.active.Add(-1)
	}
}

// Decide returns the faults to inject into r: it finds the first rule that
// matches, then draws the delay and the abort independently. It does not
// block and does not allocate.
func (f *Filter) Decide(r request.View) Decision {
	t := f.table.Load()
	if len(t.Rules) == 0 {
		return Decision{}
	}
	method, path := r.Method(), r.Path()
	// The host is read only if a rule needs it: deriving it may cost more
	// than the rest of the decision.
	var host string
	hostRead := false
	var rule *Rule
	var now time.Time
	if t.expiring {
		now = time.Now() // read only when a rule expires
	}
	for i := range t.Rules {
		ru := &t.Rules[i]
		if !ru.matchesPath(method, path) {
			continue
		}
		if t.expiring && !t.expires[i].IsZero() && !now.Before(t.expires[i]) {
			continue // expired; the timer is about to remove it
		}
		if ru.Host != "" {
			if !hostRead {
				host, hostRead = r.Host(), true
			}
			if ru.Host != host {
				continue
			}
		}
		rule = ru
		break
	}
	if rule == nil {
		return Decision{}
	}
	sp := &rule.Spec
	d := Decision{Rule: rule.Name}
	// An untrusted peer's trigger headers count as absent.
	triggers := sp.HeaderTrigger && f.trusts(r.RemoteAddr())
	if sp.Delay != nil {
		dur, pct, ok := sp.Delay.Duration, percentOr100(sp.Delay.Percent), true
		if sp.HeaderTrigger {
			ok = false
			if triggers {
				dur, ok = headerDelay(r.Header(HeaderDelay), dur)
				pct = lowerPercent(pct, r.Header(HeaderDelayPercent))
			}
		}
		if ok && f.sample(pct) {
			d.Delay = dur
		}
	}
	if sp.Abort != nil {
		a, pct, ok := *sp.Abort, percentOr100(sp.Abort.Percent), true
		if sp.HeaderTrigger {
			ok = false
			if triggers {
				a, ok = headerAbort(r.Header(HeaderAbort), a)
				pct = lowerPercent(pct, r.Header(HeaderAbortPercent))
			}
		}
		if ok && f.sample(pct) {
			d.Status, d.Reset = a.Status, a.Reset
		}
	}
	if !d.Faulty() {
		return Decision{}
	}
	if t.MaxActive > 0 {
		if f.active.Add(1) > int64(t.MaxActive) {
			f.active.Add(-1)
			f.note(rule.Name, KindOverflow)
			return Decision{}
		}
	} else {
		f.active.Add(1)
	}
	d.active = &f.active
	if d.Delay > 0 {
		f.note(rule.Name, KindDelay)
	}
	switch {
	case d.Reset:
		f.note(rule.Name, KindReset)
	case d.Status != 0:
		f.note(rule.Name, KindAbort)
	}
	return d
}

// trusts reports whether peer may trigger faults with headers.
func (f *Filter) trusts(peer netip.Addr) bool {
	return f.trusted != nil && peer.IsValid() && f.trusted(peer)
}

func (f *Filter) sample(pct float64) bool {
	return pct >= 100 || f.rand()*100 < pct
}

func (f *Filter) note(rule string, k Kind) {
	f.counts[k].Add(1)
	if f.obs != nil {
		f.obs.Injected(rule, k)
	}
}

// headerDelay reads a delay in milliseconds from a request header, clamped
// to max. ok is false when the header is absent or invalid.
func headerDelay(v string, max time.Duration) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	if ms > int64(max/time.Millisecond) {
		return max, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// headerAbort reads an abort from a request header. ok is false when the
// header is absent; an empty-after-trim or invalid value keeps def.
func headerAbort(v string, def Abort) (Abort, bool) {
	switch {
	case v == "":
		return def, false
	case v == "reset":
		return Abort{Reset: true}, true
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 200 && s < 600 {
		return Abort{Status: s}, true
	}
	return def, true
}

// lowerPercent returns the header's percentage if it is valid and lower
// than pct, else pct: a request may ask for less than the rule allows,
// never more.
func lowerPercent(pct float64, v string) float64 {
	if v == "" {
		return pct
	}
	h, err := strconv.ParseFloat(v, 64)
	if err != nil || !(h >= 0) || h >= pct {
		return pct
	}
	return h
}

// Stats counts what a Filter has done since New.
type Stats struct {
	Delays, Aborts, Resets uint64 // faults injected, by kind
	Overflow               uint64 // faults skipped because MaxActive was reached
	Active                 int64  // faulty requests not yet Done
}

// Stats returns the filter's counters.
func (f *Filter) Stats() Stats {
	return Stats{
		Delays:   f.counts[KindDelay].Load(),
		Aborts:   f.counts[KindAbort].Load(),
		Resets:   f.counts[KindReset].Load(),
		Overflow: f.counts[KindOverflow].Load(),
		Active:   f.active.Load(),
	}
}
