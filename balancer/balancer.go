package balancer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/request"
)

// Errors callers branch on. Errors returned by this package wrap one of them.
var (
	// ErrNoInstance means nothing can be picked: there are no instances,
	// every instance is drained or excluded, or every remaining one is
	// unhealthy while panic mode is off.
	ErrNoInstance = errors.New("balancer: no instance available")
	// ErrInvalidConfig wraps every error of [Config.Validate] and [ParsePolicy].
	ErrInvalidConfig = errors.New("balancer: invalid config")
	// ErrInvalidEndpoints wraps every error of [Balancer.Update].
	ErrInvalidEndpoints = errors.New("balancer: invalid endpoints")
)

// Picker chooses an instance for one request attempt. Implementations are
// safe for concurrent use; Pick must not block and must not allocate.
type Picker interface {
	// Pick returns an instance that exclude does not reject (a nil exclude
	// rejects nothing), or an error wrapping [ErrNoInstance]. r may be nil.
	Pick(r request.View, exclude func(id string) bool) (Pick, error)
}

// Interface guard.
var _ Picker = (*Balancer)(nil)

// Endpoint is one instance as the balancer sees it: the instance, whether
// health checking considers it healthy, and its effective weight.
type Endpoint struct {
	Instance discovery.Instance
	// Healthy is false for an instance that health checking ejected or that
	// failed its probes. Unhealthy instances are picked only in panic mode.
	Healthy bool
	// Weight is the effective (dynamic) weight from health checking. 0 means
	// "use Instance.Weight". An instance whose Instance.Weight is 0 is
	// drained: it is never picked and does not count towards a tier's
	// health, whatever Weight says.
	Weight uint32
}

// effectiveWeight returns the weight the pickers use; 0 means drained.
func (e *Endpoint) effectiveWeight() uint32 {
	if e.Instance.Weight == 0 {
		return 0
	}
	if e.Weight != 0 {
		return e.Weight
	}
	return e.Instance.Weight
}

// Config configures a [Balancer]. The zero value is valid: peak-EWMA
// power-of-two-choices, Envoy's overprovisioning factor 1.4 and panic
// threshold 50%, time.Now and math/rand/v2.
type Config struct {
	// Policy chooses among the instances of one locality tier. The zero
	// value is [PeakEWMA].
	Policy Policy
	// Local is where the gateway runs; every instance's tier is
	// Instance.Locality.TierFrom(Local). The zero Locality puts every
	// instance that states no locality in [discovery.SameZone].
	Local discovery.Locality
	// OverprovisioningFactor multiplies a tier's healthy share before it is
	// capped at 100%: with 1.4 a tier keeps all its traffic until fewer
	// than 1/1.4 ≈ 71.4% of its instances are healthy. 0 means 1.4
	// (Envoy's default); otherwise it must be at least 1.
	OverprovisioningFactor float64
	// PanicThreshold is the healthy share (0 to 1) of a tier below which
	// the tier, once the tiers together can no longer take all traffic,
	// ignores health and spreads its load over all its instances. 0 means
	// 0.5 (Envoy's default); a negative value disables panic mode.
	PanicThreshold float64
	// DecayTime is the time constant τ of the peak-EWMA latency: an old
	// observation weighs e^(-Δt/τ). 0 means 10s (Finagle's and Linkerd's
	// default).
	DecayTime time.Duration
	// DefaultRTT is the latency assumed for an instance before its first
	// observation. 0 means 30ms (Linkerd's default_rtt).
	DefaultRTT time.Duration
	// Rand returns uniformly random 64-bit values. nil means
	// math/rand/v2.Uint64. It is called on the hot path, concurrently if
	// Pick is called concurrently, and must not block.
	Rand func() uint64
	// Now returns the current time; nil means time.Now. Only differences
	// between its results are used (monotonic when time.Now is used).
	Now func() time.Time
}

// Defaults written on the fields of [Config].
const (
	DefaultOverprovisioningFactor = 1.4
	DefaultPanicThreshold         = 0.5
	DefaultDecayTime              = 10 * time.Second
	DefaultRTT                    = 30 * time.Millisecond
)

// Validate reports whether c can configure a [Balancer]. The error wraps
// [ErrInvalidConfig] and names the field.
func (c Config) Validate() error {
	if c.Policy > LeastRequest {
		return fmt.Errorf("%w: policy %d is unknown", ErrInvalidConfig, c.Policy)
	}
	if f := c.OverprovisioningFactor; f != 0 && (math.IsNaN(f) || math.IsInf(f, 0) || f < 1) {
		return fmt.Errorf("%w: overprovisioning factor %v must be at least 1", ErrInvalidConfig, f)
	}
	if p := c.PanicThreshold; math.IsNaN(p) || p > 1 {
		return fmt.Errorf("%w: panic threshold %v must be at most 1", ErrInvalidConfig, p)
	}
	if c.DecayTime < 0 {
		return fmt.Errorf("%w: decay time %v is negative", ErrInvalidConfig, c.DecayTime)
	}
	if c.DefaultRTT < 0 {
		return fmt.Errorf("%w: default RTT %v is negative", ErrInvalidConfig, c.DefaultRTT)
	}
	return nil
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if c.OverprovisioningFactor == 0 {
		c.OverprovisioningFactor = DefaultOverprovisioningFactor
	}
	if c.PanicThreshold == 0 {
		c.PanicThreshold = DefaultPanicThreshold
	}
	if c.DecayTime == 0 {
		c.DecayTime = DefaultDecayTime
	}
	if c.DefaultRTT == 0 {
		c.DefaultRTT = DefaultRTT
	}
	if c.Rand == nil {
		c.Rand = rand.Uint64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Balancer picks instances of one service (or one gray subset of it) by
// locality tier, then by [Policy] inside the tier. It is safe for
// concurrent use. Pick reads an immutable snapshot published by Update with
// an atomic swap, so it never blocks and never allocates; per-instance
// runtime statistics (in-flight requests, peak-EWMA latency, recent
// success) live in atomics that survive updates.
type Balancer struct {
	cfg   Config
	epoch time.Time
	tau   float64 // DecayTime in milliseconds

	picker atomic.Pointer[picker]

	mu    sync.Mutex        // serialises Update
	stats map[string]*stats // guarded by mu: by Instance.ID, the instances of the last Update
}

// New returns a Balancer with no instances (Pick fails with
// [ErrNoInstance] until [Balancer.Update]). The error wraps
// [ErrInvalidConfig].
func New(cfg Config) (*Balancer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Balancer{
		cfg:   cfg,
		epoch: cfg.Now(),
		tau:   float64(cfg.DecayTime) / float64(time.Millisecond),
		stats: map[string]*stats{},
	}, nil
}

// nowMs is the clock in milliseconds since the Balancer was made, modulo
// 2^32 (49.7 days); only differences are used.
func (b *Balancer) nowMs() uint32 {
	return uint32(b.cfg.Now().Sub(b.epoch) / time.Millisecond)
}

// Update publishes a new snapshot built from eps. It runs off the request
// path; Picks in progress finish on the snapshot they started with. The
// statistics of instances that remain (same Instance.ID) are kept; those
// of removed instances are dropped. eps is not retained, but the Labels
// maps of its instances are shared and must not be modified afterwards. On
// error (an empty, duplicate or address-less instance) the previous
// snapshot keeps serving and the error wraps [ErrInvalidEndpoints]. Update
// is safe for concurrent use; concurrent Updates are applied one at a
// time.
func (b *Balancer) Update(eps []Endpoint) error {
	seen := make(map[string]int, len(eps))
	for i := range eps {
		in := &eps[i].Instance
		if in.ID == "" {
			return fmt.Errorf("%w: endpoint %d (%s) has an empty ID", ErrInvalidEndpoints, i, in.Addr)
		}
		if j, dup := seen[in.ID]; dup {
			return fmt.Errorf("%w: endpoints %d and %d share ID %q", ErrInvalidEndpoints, j, i, in.ID)
		}
		seen[in.ID] = i
		if !in.Addr.IsValid() {
			return fmt.Errorf("%w: endpoint %d (ID %q) has no address", ErrInvalidEndpoints, i, in.ID)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	next := make(map[string]*stats, len(eps))
	now := b.nowMs()
	for i := range eps {
		id := eps[i].Instance.ID
		s := b.stats[id]
		if s == nil {
			s = newStats(float64(b.cfg.DefaultRTT), now)
		}
		next[id] = s
	}
	b.stats = next
	b.picker.Store(newPicker(b, eps, next))
	return nil
}

// Pick chooses an instance for one attempt: a locality tier by the spill
// rule (see the package documentation), then an instance inside it by the
// configured [Policy]. It never returns a drained instance or one that
// exclude rejects (retries pass the IDs already tried), and returns an
// unhealthy one only when its tier is in panic mode (Pick.Panic). If the
// chosen tier has nothing left after exclude, the nearest other tier with
// an eligible instance is used. It fails with [ErrNoInstance] when nothing
// is eligible. r is not used by the current policies and may be nil.
//
// The caller must call [Pick.Done] exactly once when the attempt ends.
// Pick is safe for concurrent use, does not block and does not allocate.
func (b *Balancer) Pick(r request.View, exclude func(id string) bool) (Pick, error) {
	p := b.picker.Load()
	if p == nil {
		return Pick{}, ErrNoInstance
	}
	// One clock read per attempt: peak-EWMA costs decay to it, and Done
	// dates its observation from it.
	now := b.nowMs()
	i, panicked := p.pick(exclude, now)
	if i < 0 {
		return Pick{}, ErrNoInstance
	}
	e := &p.entries[i]
	e.stats.inflight.Add(1)
	return Pick{Instance: &e.inst, Tier: e.tier, Panic: panicked, b: b, s: e.stats, at: now}, nil
}

// Pick is the result of [Balancer.Pick]. It is a small value; copying it is
// cheap, but Done must be called on exactly one copy.
type Pick struct {
	// Instance is the chosen instance. It points into an immutable
	// snapshot and must not be modified.
	Instance *discovery.Instance
	// Tier is the instance's locality tier from the balancer's point of view.
	Tier discovery.Tier
	// Panic is true when the pick was made in panic mode, ignoring health:
	// the instance may be unhealthy.
	Panic bool

	b  *Balancer
	s  *stats
	at uint32 // when it was picked, as Balancer.nowMs
}

// Result is how an attempt ended, as far as the balancer is concerned.
type Result uint8

// The results of an attempt.
const (
	// Succeeded: the instance answered (any status it is not blamed for).
	// Its latency is folded into the peak-EWMA and a success recorded.
	Succeeded Result = iota
	// Failed: the instance failed (refused, reset, timed out, answered
	// 5xx). A failure is recorded; its latency counts only when it is
	// above the current estimate, so that a fast refusal never makes a
	// dead instance look quick.
	Failed
	// Neutral: the attempt says nothing about the instance (the client
	// went away, a hedge lost its race, an open breaker skipped it). Only
	// the in-flight count is released.
	Neutral
)

var resultNames = [...]string{"succeeded", "failed", "neutral"}

// String returns "succeeded", "failed" or "neutral".
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// Done reports the outcome of the attempt: how long it took and how it
// ended. It updates the instance's in-flight count, peak-EWMA latency and
// recent success without allocating or reading the clock: the observation
// is dated pick time + latency. Call it exactly once per successful Pick;
// on the zero Pick it does nothing. Safe for concurrent use.
func (p Pick) Done(latency time.Duration, r Result) {
	if p.s == nil {
		return
	}
	p.s.inflight.Add(-1)
	if r == Neutral {
		return
	}
	if latency < 0 {
		latency = 0
	}
	p.s.observe(p.at+uint32(latency/time.Millisecond), float64(latency), p.b.tau, r == Failed)
	p.s.record(r == Succeeded)
}

// State returns the tiers as the current snapshot sees them: instance
// counts, the share of traffic each receives and panic flags. It is meant
// for metrics (duohuo_healthy_instances) and the admin API. It does not
// allocate and is safe for concurrent use.
func (b *Balancer) State() State {
	p := b.picker.Load()
	if p == nil {
		return State{}
	}
	return p.state
}

// Stats returns the runtime statistics of the instance with the given ID,
// and false if the current snapshot has no such instance. Safe for
// concurrent use.
func (b *Balancer) Stats(id string) (Stats, bool) {
	p := b.picker.Load()
	if p == nil {
		return Stats{}, false
	}
	for i := range p.entries {
		if e := &p.entries[i]; e.inst.ID == id {
			return e.stats.snapshot(b.nowMs(), b.tau), true
		}
	}
	return Stats{}, false
}

// Stats are the runtime statistics of one instance.
type Stats struct {
	// InFlight is the number of picks whose Done has not been called yet.
	InFlight int64
	// Latency is the peak-EWMA latency, decayed to now.
	Latency time.Duration
	// Success is the recent success rate, 0 to 1: an exponentially
	// weighted average of the last outcomes, each new one weighing 1/16.
	Success float64
}
