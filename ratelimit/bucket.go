package ratelimit

import (
	"math"
	"sync"
	"time"
)

// BucketConfig configures a [Bucket]. The zero value is valid: a bucket of
// one permit that never refills (every field's zero is written on it).
type BucketConfig struct {
	// Rate is how many permits the bucket gains per second. Zero,
	// negative or NaN: it gains none, and admits its burst once. +Inf
	// admits everything.
	Rate float64
	// Burst is the size of the bucket: how many permits a bucket that has
	// been full may hand out at once. Below 1 means 1.
	Burst int
	// WarmUp, when positive, is the cold-start ramp of Sentinel's WarmUp
	// behaviour: a cold bucket (new, or unused for about WarmUp) admits
	// Rate/ColdFactor per second, and, while it is kept busy, rises to
	// Rate over WarmUp. 0 means no ramp.
	WarmUp time.Duration
	// ColdFactor is how many times slower a cold bucket is. Values of 1
	// or less (and NaN) mean 3, Sentinel's coldFactor.
	ColdFactor float64
}

// Bucket is a token bucket: it holds up to Burst permits, gains Rate per
// second, and each admitted call takes one. With a warm-up it takes more
// than one permit per call while cold (ColdFactor when fully cold, falling
// to one as it warms), so that a cold bucket admits Rate/ColdFactor per
// second and bursts of Burst/ColdFactor (at least one call).
//
// Its methods are safe for concurrent use and do not allocate; they hold
// the bucket's mutex for a few arithmetic operations.
type Bucket struct {
	rate  float64 // permits per second
	burst float64
	// The warm-up (Guava's SmoothWarmingUp, which Sentinel's
	// WarmUpController follows): cold is the bucket's coldness in
	// permits, in [0, coldMax]. Up to warn a call costs one permit;
	// above, the cost rises linearly to factor at coldMax. Each admitted
	// call takes one from cold; time the bucket spends full adds rate
	// per second. With Sentinel's thresholds (warn = WarmUp·Rate/(c−1),
	// coldMax = warn + 2·WarmUp·Rate/(1+c)) the ramp from coldMax to
	// warn under saturation lasts exactly WarmUp: the area under the
	// cost curve.
	warm    bool
	factor  float64
	warn    float64
	coldMax float64
	base    time.Time // monotonic origin of the bucket's clock

	mu     sync.Mutex // guards the fields below
	tokens float64    // may be negative: permits promised to queued calls
	cold   float64
	last   int64 // ns since base of the last update
}

// NewBucket returns a full bucket; with a warm-up it starts cold.
func NewBucket(c BucketConfig) *Bucket {
	b := &Bucket{rate: c.Rate, burst: float64(max(c.Burst, 1)), base: time.Now()}
	if !(b.rate > 0) { // NaN too
		b.rate = 0
	}
	b.tokens = b.burst
	if c.WarmUp > 0 && b.rate > 0 && !math.IsInf(b.rate, 1) {
		f := c.ColdFactor
		if !(f > 1) {
			f = 3
		}
		w := c.WarmUp.Seconds()
		b.warm, b.factor = true, f
		b.warn = w * b.rate / (f - 1)
		b.coldMax = b.warn + 2*w*b.rate/(1+f)
		b.cold = b.coldMax
	}
	return b
}

func (b *Bucket) now() int64 { return int64(time.Since(b.base)) }

// advance adds the permits gained since the last update; time spent full
// makes a warming bucket colder. b.mu must be held.
func (b *Bucket) advance(now int64) {
	dt := now - b.last
	if dt <= 0 {
		return
	}
	b.last = now
	if math.IsInf(b.rate, 1) {
		b.tokens = b.burst
		return
	}
	gain := float64(dt) / 1e9 * b.rate
	if b.tokens+gain < b.burst {
		b.tokens += gain
		return
	}
	if b.warm {
		idle := gain - (b.burst - b.tokens) // permits' worth of time spent full
		b.cold = min(b.coldMax, b.cold+idle)
	}
	b.tokens = b.burst
}

// cost is what the next call takes, in permits. b.mu must be held.
func (b *Bucket) cost() float64 {
	if !b.warm || b.cold <= b.warn {
		return 1
	}
	return 1 + (b.cold-b.warn)*(b.factor-1)/(b.coldMax-b.warn)
}

// Allow takes a permit if one is free now and reports whether it did.
func (b *Bucket) Allow() bool {
	_, ok := b.Reserve(0)
	return ok
}

// Reserve takes a permit for one call. ok and wait 0: the call goes ahead
// now. ok and wait > 0: the permit is the caller's, to be used after wait
// (at most maxWait); the caller queues. Not ok: no permit is taken, and
// wait is how long until one would be free (at most [MaxWait]), for a
// Retry-After. A maxWait of 0 or less only admits at once.
func (b *Bucket) Reserve(maxWait time.Duration) (wait time.Duration, ok bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	// A call needs min(cost, Burst) permits in the bucket and takes its
	// cost, leaving a debt when the cost is above what the bucket holds:
	// a cold bucket of Burst 1 still admits, every ColdFactor permits'
	// time.
	c := b.cost()
	need := min(c, b.burst) - b.tokens
	if need > 1e-9 {
		wait = b.timeFor(need)
		if wait > maxWait {
			return wait, false
		}
	} else {
		wait = 0
	}
	b.tokens -= c
	if b.warm {
		b.cold = max(0, b.cold-1)
	}
	return wait, true
}

// timeFor returns how long the bucket takes to gain n permits, rounded up
// to the nanosecond and capped at MaxWait.
func (b *Bucket) timeFor(n float64) time.Duration {
	if b.rate == 0 {
		return MaxWait
	}
	ns := math.Ceil(n / b.rate * 1e9)
	if ns >= float64(MaxWait) {
		return MaxWait
	}
	return time.Duration(ns)
}

// MaxWait is the longest wait a limiter reports: what a bucket that never
// refills, or a window that admits nothing, answers.
const MaxWait = time.Duration(math.MaxInt64)

// Tokens returns the permits the bucket holds now, 0 when queued calls
// have been promised more than it holds.
func (b *Bucket) Tokens() float64 {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return max(b.tokens, 0)
}

// CurrentRate returns the rate the bucket admits at now: Rate once warm,
// down to Rate/ColdFactor when cold.
func (b *Bucket) CurrentRate() float64 {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return b.rate / b.cost()
}
