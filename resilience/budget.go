package resilience

import (
	"math"
	"sync/atomic"
	"time"
)

// BudgetConfig configures a [Budget]. The zero value gives the defaults
// written on each field.
type BudgetConfig struct {
	// Ratio is how many retries are allowed per request over the window:
	// 0.2 lets retries add at most 20% to the load on the upstream (Envoy's
	// retry budget_percent default; Linkerd's retryRatio). 0 means 0.2; a
	// negative value allows no retries beyond MinPerSecond.
	Ratio float64
	// MinPerSecond retries are always allowed per second, so that a route
	// with little traffic can still retry (Linkerd's minRetriesPerSecond;
	// Envoy's min_retry_concurrency is 3). 0 means 3; negative means none.
	MinPerSecond int
	// Window is how far back requests and retries are counted. 0 means 10s
	// (Linkerd's ttl).
	Window time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

const budgetBuckets = 10

// Budget caps retries at a share of requests over a sliding window plus a
// small floor per second, so that a failing fleet is never hit by a retry
// storm: whatever the failure rate, upstream attempts stay below
// (1 + Ratio) × requests + MinPerSecond × window.
//
// The window is a ring of time buckets of atomic counters; Request and
// AllowRetry take no lock and do not allocate. It is safe for concurrent use.
type Budget struct {
	ratio    float64
	minPerS  int64
	bucketNs int64
	now      func() time.Time
	epoch    time.Time
	buckets  [budgetBuckets]bucket
}

type bucket struct {
	slot     atomic.Int64 // which bucket-length slot since epoch this bucket holds
	requests atomic.Int64
	retries  atomic.Int64
}

// NewBudget returns a Budget; see [BudgetConfig] for the defaults.
func NewBudget(c BudgetConfig) *Budget {
	if c.Ratio == 0 {
		c.Ratio = 0.2
	}
	if c.Ratio < 0 {
		c.Ratio = 0
	}
	if c.MinPerSecond == 0 {
		c.MinPerSecond = 3
	}
	if c.MinPerSecond < 0 {
		c.MinPerSecond = 0
	}
	if c.Window <= 0 {
		c.Window = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	b := &Budget{
		ratio:    c.Ratio,
		minPerS:  int64(c.MinPerSecond),
		bucketNs: int64(c.Window) / budgetBuckets,
		now:      c.Now,
	}
	b.epoch = c.Now()
	for i := range b.buckets {
		b.buckets[i].slot.Store(math.MinInt64)
	}
	return b
}

// current returns the bucket for now, recycling it when it holds an old slot.
func (b *Budget) current() (*bucket, int64) {
	slot := int64(b.now().Sub(b.epoch)) / b.bucketNs
	bk := &b.buckets[slot%budgetBuckets]
	if old := bk.slot.Load(); old != slot {
		// Whoever wins the swap resets the counters; a count that lands
		// between the swap and the reset is lost, which errs towards
		// fewer retries.
		if bk.slot.CompareAndSwap(old, slot) {
			bk.requests.Store(0)
			bk.retries.Store(0)
		}
	}
	return bk, slot
}

// totals sums the buckets of the window ending at slot.
func (b *Budget) totals(slot int64) (requests, retries int64) {
	for i := range b.buckets {
		bk := &b.buckets[i]
		if s := bk.slot.Load(); s > slot-budgetBuckets && s <= slot {
			requests += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	return requests, retries
}

// Request records one client request (not a retry).
func (b *Budget) Request() {
	bk, _ := b.current()
	bk.requests.Add(1)
}

// AllowRetry reports whether one more retry fits the budget, and if so
// counts it. A false answer means: answer with what the last attempt got.
func (b *Budget) AllowRetry() bool {
	bk, slot := b.current()
	req, ret := b.totals(slot)
	windowSeconds := float64(b.bucketNs*budgetBuckets) / float64(time.Second)
	allowed := b.ratio*float64(req) + float64(b.minPerS)*windowSeconds
	if float64(ret+1) > allowed {
		return false
	}
	bk.retries.Add(1)
	return true
}

// Backoff returns the wait before retry number attempt (1 for the first
// retry): "full jitter" exponential backoff, a uniformly random share r
// (0 ≤ r < 1) of min(max, base × 2^(attempt−1)). Full jitter spreads the
// retries of many clients best (AWS Architecture Blog, "Exponential Backoff
// And Jitter", 2015).
func Backoff(attempt int, base, max time.Duration, r float64) time.Duration {
	if attempt < 1 || base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if max > 0 && d > max {
		d = max
	}
	return time.Duration(r * float64(d))
}
