package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// ErrOpen is returned by [Breaker.Allow] and [Breaker.Call] when the
// breaker refuses a call: it is open, or half-open with all its probes out.
var ErrOpen = errors.New("breaker: open")

// ErrConfig is wrapped by the errors of [Config.Validate].
var ErrConfig = errors.New("breaker: invalid config")

// State is the state of a breaker.
type State uint8

// The breaker states.
const (
	// Closed: calls pass; outcomes are counted.
	Closed State = iota
	// Open: calls are refused until Config.OpenTimeout has passed.
	Open
	// HalfOpen: up to Config.HalfOpenProbes calls pass as probes; if they
	// all succeed the breaker closes, the first failure opens it again.
	HalfOpen
)

var stateNames = [...]string{"closed", "open", "half_open"}

// String returns "closed", "open" or "half_open".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Config configures a [Breaker]. The zero value is valid: it trips on 5
// consecutive failures or on a failure ratio of 50% over 10s with at least
// 20 calls, stays open 5s and closes after 3 successful probes. Every
// default is written on its field.
type Config struct {
	// Name names the breaker in events, e.g. an instance ID or a route.
	Name string
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row. 0 means 5 (gobreaker trips after more than 5, Envoy ejects at
	// 5); negative disables.
	ConsecutiveFailures int
	// FailureRatio trips the breaker when failures / calls over the window
	// reaches it, once the window holds MinRequests calls. 0 means 0.5
	// (Polaris's and Kratos' default); negative disables.
	FailureRatio float64
	// SlowCallThreshold makes a call that took at least this long a slow
	// call. 0 disables slow-call tripping: there is no latency that is
	// slow for every dependency (Sentinel requires MaxAllowedRtMs too).
	SlowCallThreshold time.Duration
	// SlowCallRatio trips the breaker when slow calls / calls over the
	// window reaches it, once the window holds MinRequests calls. 0 means
	// 0.5 (Sentinel's example rule).
	SlowCallRatio float64
	// MinRequests is the fewest calls in the window for the ratios to
	// count, so that 1 failure out of 1 call does not trip. 0 means 20
	// (Kratos).
	MinRequests int
	// Window is the length of the sliding window of the ratios. 0 means
	// 10s (go-zero).
	Window time.Duration
	// Buckets is how many buckets the window is cut into; the window slides
	// one bucket at a time. 0 means 10.
	Buckets int
	// OpenTimeout is how long the breaker stays open before it lets probes
	// through. 0 means 5s: Sentinel's example uses 3s, Polaris 30s and
	// gobreaker 60s; a gateway that has other instances to send traffic to
	// can afford to look again soon.
	OpenTimeout time.Duration
	// HalfOpenProbes is how many calls the half-open breaker lets through;
	// that many successes close it. 0 means 3 (Polaris closes after 3
	// successes). At most 1000.
	HalfOpenProbes int
	// OnStateChange, when set, is called on every state change, by the
	// goroutine whose Allow or Done caused it, after the change. It must
	// not block; events from concurrent changes may arrive out of order
	// (order them by Event.Generation). See [LogTo].
	OnStateChange func(Event)
	// Classifier classifies the errors of functions run by [Breaker.Call].
	// Nil means the default rules ([Classify]).
	Classifier *Classifier
}

// Validate reports the first invalid field of c, naming it, wrapped around
// [ErrConfig]. A zero Config is valid.
func (c Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrConfig, field, v, why)
	}
	switch {
	case c.FailureRatio > 1:
		return bad("FailureRatio", c.FailureRatio, "above 1")
	case c.SlowCallThreshold < 0:
		return bad("SlowCallThreshold", c.SlowCallThreshold, "negative")
	case c.SlowCallRatio < 0 || c.SlowCallRatio > 1:
		return bad("SlowCallRatio", c.SlowCallRatio, "not in 0..1")
	case c.MinRequests < 0:
		return bad("MinRequests", c.MinRequests, "negative")
	case c.Window < 0:
		return bad("Window", c.Window, "negative")
	case c.Buckets < 0 || c.Buckets > 1000:
		return bad("Buckets", c.Buckets, "not in 0..1000")
	case c.OpenTimeout < 0:
		return bad("OpenTimeout", c.OpenTimeout, "negative")
	case c.HalfOpenProbes < 0 || c.HalfOpenProbes > 1000:
		return bad("HalfOpenProbes", c.HalfOpenProbes, "not in 0..1000")
	}
	w, b := c.Window, c.Buckets
	if w == 0 {
		w = 10 * time.Second
	}
	if b == 0 {
		b = 10
	}
	if w/time.Duration(b) < time.Millisecond {
		return bad("Window", w, fmt.Sprintf("buckets of %v, under 1ms", w/time.Duration(b)))
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.ConsecutiveFailures, 5)
	deff(&c.FailureRatio, 0.5)
	deff(&c.SlowCallRatio, 0.5)
	def(&c.MinRequests, 20)
	if c.Window == 0 {
		c.Window = 10 * time.Second
	}
	def(&c.Buckets, 10)
	if c.OpenTimeout == 0 {
		c.OpenTimeout = 5 * time.Second
	}
	def(&c.HalfOpenProbes, 3)
	return c
}

// Event is one state change of a breaker.
type Event struct {
	Name     string
	From, To State
	// Generation counts the breaker's state changes; it orders events
	// delivered concurrently.
	Generation uint32
	// Reason says why, e.g. "5 consecutive failures" or "failure ratio
	// 0.55 ≥ 0.50 over 20 calls".
	Reason string
	At     time.Time
}

// Ticket is a permission to make one call, returned by [Breaker.Allow] and
// handed back to [Breaker.Done]. It is a small value: keeping it costs no
// allocation. The zero Ticket is ignored by Done.
type Ticket struct {
	gen   uint32
	probe bool
}

// Probe reports whether the call is a half-open probe.
func (t Ticket) Probe() bool { return t.probe }

// Breaker is a circuit breaker with closed, open and half-open states. It
// trips on consecutive failures, on a failure ratio and on a slow-call
// ratio over a sliding window.
//
// A caller asks [Breaker.Allow] before each call and reports the outcome
// with [Breaker.Done]; [Breaker.Call] does both around a function. All
// methods are safe for concurrent use, do not block, and Allow and Done do
// not allocate: the state is one atomic word and the window a ring of
// atomic counters.
type Breaker struct {
	cfg      Config
	base     time.Time // monotonic origin of the breaker's clock
	width    int64     // bucket width, ns
	consecN  int64
	slowOn   bool
	ratioOn  bool
	probes   uint64
	minReq   uint64
	timeout  int64 // OpenTimeout, ns
	word     atomic.Uint64
	openedAt atomic.Int64 // when it last opened, ns since base
	consec   atomic.Int64
	ring     []bucket
}

// The state word: generation (32 bits) | state (2 bits) | probes admitted
// (15 bits) | probe successes (15 bits). A generation starts at 1, so that
// the zero Ticket matches none.
const (
	admittedShift = 15
	stateShift    = 30
	genShift      = 32
	fieldMask     = 1<<15 - 1
)

// next returns the generation after gen, skipping 0 (the zero Ticket's)
// when the counter wraps after 2³² changes.
func next(gen uint32) uint32 {
	if gen == ^uint32(0) {
		return 1
	}
	return gen + 1
}

func pack(gen uint32, s State, admitted, succ uint64) uint64 {
	return uint64(gen)<<genShift | uint64(s)<<stateShift | admitted<<admittedShift | succ
}

func unpack(w uint64) (gen uint32, s State, admitted, succ uint64) {
	return uint32(w >> genShift), State(w >> stateShift & 3), w >> admittedShift & fieldMask, w & fieldMask
}

// New returns a closed Breaker. It fails with an error wrapping
// [ErrConfig] when cfg is invalid.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Breaker{
		cfg:     cfg,
		base:    time.Now(),
		width:   int64(cfg.Window) / int64(cfg.Buckets),
		consecN: int64(cfg.ConsecutiveFailures),
		slowOn:  cfg.SlowCallThreshold > 0,
		ratioOn: cfg.FailureRatio > 0,
		probes:  uint64(cfg.HalfOpenProbes),
		minReq:  uint64(cfg.MinRequests),
		timeout: int64(cfg.OpenTimeout),
		ring:    make([]bucket, cfg.Buckets),
	}
	b.resetWindow()
	b.word.Store(pack(1, Closed, 0, 0))
	return b, nil
}

// Name returns Config.Name.
func (b *Breaker) Name() string { return b.cfg.Name }

// State returns the breaker's state. An open breaker whose OpenTimeout has
// passed reports Open until the next Allow moves it to HalfOpen.
func (b *Breaker) State() State {
	_, s, _, _ := unpack(b.word.Load())
	return s
}

func (b *Breaker) now() int64 { return int64(time.Since(b.base)) }

// Allow asks for permission to make one call. It returns a Ticket to hand
// to [Breaker.Done] with the outcome, or [ErrOpen] (and the zero Ticket)
// when the breaker refuses. Each Ticket Allow returns must be handed to
// Done exactly once: a half-open breaker waits for its probes.
func (b *Breaker) Allow() (Ticket, error) {
	for {
		w := b.word.Load()
		gen, s, admitted, _ := unpack(w)
		switch s {
		case Closed:
			return Ticket{gen: gen}, nil
		case Open:
			if b.now()-b.openedAt.Load() < b.timeout {
				return Ticket{}, ErrOpen
			}
			if b.word.CompareAndSwap(w, pack(next(gen), HalfOpen, 1, 0)) {
				b.emit(Open, HalfOpen, next(gen), "open timeout elapsed")
				return Ticket{gen: next(gen), probe: true}, nil
			}
		case HalfOpen:
			if admitted >= b.probes {
				return Ticket{}, ErrOpen
			}
			if b.word.CompareAndSwap(w, w+1<<admittedShift) {
				return Ticket{gen: gen, probe: true}, nil
			}
		}
	}
}

// Done reports the outcome of the call t allowed: its class and how long
// it took. Outcomes of calls allowed before the breaker last changed state
// are ignored, as are Canceled outcomes (except that a canceled probe
// frees its slot). Done does not block or allocate; it reads the clock
// once, to place the outcome in the window.
func (b *Breaker) Done(t Ticket, c Class, latency time.Duration) {
	if t.gen != 0 {
		b.done(t, c, latency, -1)
	}
}

// DoneAt is Done for a caller that has just read the clock to measure the
// latency (end = time.Now(); latency = end.Sub(start)): it passes that
// reading as now and saves Done its own, which on a busy virtual machine
// is the largest part of Done's cost. now must come from time.Now (it
// carries a monotonic reading).
func (b *Breaker) DoneAt(t Ticket, c Class, latency time.Duration, now time.Time) {
	if t.gen != 0 {
		b.done(t, c, latency, max(int64(now.Sub(b.base)), 0))
	}
}

// done applies an outcome; now is the breaker's clock, or -1 to read it
// when needed.
func (b *Breaker) done(t Ticket, c Class, latency time.Duration, now int64) {
	w := b.word.Load()
	gen, s, _, _ := unpack(w)
	if gen != t.gen {
		return
	}
	switch s {
	case Closed:
		if c != Canceled {
			if now < 0 {
				now = b.now()
			}
			b.record(w, c, latency, now)
		}
	case HalfOpen:
		b.probeDone(t.gen, c, latency)
	}
}

// record counts a closed-state outcome and trips the breaker when a
// condition is met.
func (b *Breaker) record(w uint64, c Class, latency time.Duration, now int64) {
	fail := c.Failure()
	slow := b.slowOn && latency >= b.cfg.SlowCallThreshold
	bk := b.bucket(now)
	bk.calls.Add(1)
	if fail {
		bk.fails.Add(1)
	}
	if slow {
		bk.slow.Add(1)
	}
	if !fail {
		// Load first: an uncontended read keeps the cache line shared.
		if b.consec.Load() != 0 {
			b.consec.Store(0)
		}
		if !slow {
			return
		}
	} else if b.consecN > 0 {
		if n := b.consec.Add(1); n >= b.consecN {
			b.trip(w, now, fmt.Sprintf("%d consecutive failures", n))
			return
		}
	}
	calls, fails, slows := b.sum(now)
	if calls < b.minReq || calls == 0 {
		return
	}
	if fail && b.ratioOn {
		if r := float64(fails) / float64(calls); r >= b.cfg.FailureRatio {
			b.trip(w, now, fmt.Sprintf("failure ratio %.2f ≥ %.2f over %d calls", r, b.cfg.FailureRatio, calls))
			return
		}
	}
	if slow {
		if r := float64(slows) / float64(calls); r >= b.cfg.SlowCallRatio {
			b.trip(w, now, fmt.Sprintf("slow-call ratio %.2f ≥ %.2f over %d calls (≥ %v)", r, b.cfg.SlowCallRatio, calls, b.cfg.SlowCallThreshold))
		}
	}
}

// trip opens a breaker that is still in the state word w.
func (b *Breaker) trip(w uint64, now int64, why string) {
	gen, from, _, _ := unpack(w)
	// Store the opening time first: an Allow that sees the new word must
	// not read an older opening time. A lost CAS leaves a harmless value
	// (the breaker is then open with a time as recent, or not open).
	b.openedAt.Store(now)
	if b.word.CompareAndSwap(w, pack(next(gen), Open, 0, 0)) {
		b.consec.Store(0)
		b.emit(from, Open, next(gen), why)
	}
}

// probeDone applies the outcome of a half-open probe.
func (b *Breaker) probeDone(tgen uint32, c Class, latency time.Duration) {
	bad := c.Failure() || (b.slowOn && latency >= b.cfg.SlowCallThreshold)
	for {
		w := b.word.Load()
		gen, s, admitted, succ := unpack(w)
		if gen != tgen || s != HalfOpen {
			return
		}
		switch {
		case c == Canceled:
			if admitted == 0 || b.word.CompareAndSwap(w, w-1<<admittedShift) {
				return
			}
		case bad:
			// On success the next turn sees the new generation and
			// returns; on a lost race it retries with the new word.
			b.trip(w, b.now(), "probe failed: "+c.String())
		case succ+1 >= b.probes:
			// The window starts empty: failures from before the breaker
			// opened must not trip it again. Nobody records into the
			// window while half-open, so resetting here is safe.
			b.resetWindow()
			b.consec.Store(0)
			if b.word.CompareAndSwap(w, pack(next(gen), Closed, 0, 0)) {
				b.emit(HalfOpen, Closed, next(gen), fmt.Sprintf("%d probes succeeded", succ+1))
				return
			}
		default:
			if b.word.CompareAndSwap(w, w+1) {
				return
			}
		}
	}
}

func (b *Breaker) emit(from, to State, gen uint32, why string) {
	if f := b.cfg.OnStateChange; f != nil {
		f(Event{Name: b.cfg.Name, From: from, To: to, Generation: gen, Reason: why, At: time.Now()})
	}
}

// Call runs fn if the breaker allows it and reports its outcome, classified
// by Config.Classifier, with its duration. It returns [ErrOpen] without
// running fn when the breaker refuses, and fn's error otherwise. A panic
// in fn is reported as a ServerError and re-panics.
func (b *Breaker) Call(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	t, err := b.Allow()
	if err != nil {
		return err
	}
	start := time.Now()
	c := ServerError
	defer func() {
		end := time.Now()
		b.DoneAt(t, c, end.Sub(start), end)
	}()
	err = fn(ctx)
	c = b.cfg.Classifier.Classify(err)
	return err
}

// Counts are the outcomes in a breaker's current window.
type Counts struct {
	Calls, Failures, Slow uint64
	// ConsecutiveFailures is the current run of failures.
	ConsecutiveFailures int64
}

// Counts returns the outcomes in the current window (closed state only:
// the window is emptied when the breaker closes). It does not allocate.
func (b *Breaker) Counts() Counts {
	c, f, s := b.sum(b.now())
	return Counts{Calls: c, Failures: f, Slow: s, ConsecutiveFailures: b.consec.Load()}
}
