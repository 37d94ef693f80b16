package health

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duohuo/duohuo/discovery"
)

// Tracker tracks the health of the instances of one service: it probes them
// (active health checking), learns from real traffic reported through
// [Tracker.Observe] (passive outlier detection), and computes a dynamic
// weight per instance.
//
// All methods are safe for concurrent use. Observe is the hot path: it
// neither locks nor allocates. Every decision (ejection, return, weight)
// is taken by one goroutine owned by the Tracker, on its timers; the
// result is published as an immutable snapshot read by [Tracker.Snapshot]
// and [Tracker.State], and announced on [Tracker.Changes]. [Tracker.Close]
// stops the Tracker's goroutines and waits for them.
type Tracker struct {
	cfg Config
	// Thresholds copied for Observe, as int64 to compare with counters.
	n5xx, nGw, nProb int64

	table   atomic.Pointer[map[string]*inst] // for Observe; replaced by Update
	states  atomic.Pointer[[]State]          // published snapshot, sorted by ID
	changes chan struct{}                    // cap 1: coalesced change notices
	wake    chan struct{}                    // cap 1: Observe crossed a threshold

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	transport *http.Transport
	client    *http.Client

	mu      sync.Mutex       // guards the fields below and the loop-owned fields of every inst
	insts   map[string]*inst // by ID
	order   []string         // IDs, sorted
	closed  bool
	latBuf  []time.Duration // scratch for the reference latency
	timer   *time.Timer     // fires at the earliest end of an ejection
	timerAt time.Time       // when timer fires; zero when stopped
}

// inst is the per-instance state. The atomics are written by Observe; the
// rest is owned by the Tracker's goroutines under Tracker.mu.
type inst struct {
	id string

	// Two counters per word, so that a success costs two atomic adds:
	// counts holds successes << 32 | outcomes that count for the success
	// rate; lat holds the latency sum in µs << latShift | samples. A word
	// is swapped to 0 every Weight.Interval, long before a field could
	// overflow (2³² outcomes, 2²⁴ samples or 2⁴⁰ µs ≈ 12 days of summed
	// latency per interval).
	counts, lat      atomic.Uint64
	consec5xx, conGw atomic.Int64 // consecutive failure counters
	inProbation      atomic.Bool  // mirrors probation for Observe
	probSucc         atomic.Int64 // successes since entering probation
	probFail         atomic.Bool  // a failure since entering probation

	// Guarded by Tracker.mu.
	addr        netip.AddrPort
	configured  uint32
	stopProbe   context.CancelFunc
	activeOK    bool
	probeOK     int
	probeFail   int
	probeReason string
	awaitFirst  bool // out of service until the first probe, which alone decides
	ejected     bool
	byGateway   bool // ejected by the gateway-failure detector (its own cap)
	until       time.Time
	ejections   int
	probation   bool
	reason      string  // passive reason
	latAvg      float64 // ns
	latSeeded   bool
	sr          float64
	srSeeded    bool
	winReqs     uint64 // success-rate detector window
	winSucc     uint64
	notified    uint32 // weight at the last change notice
	notifiedSt  Status
	notifiedSet bool
}

// New returns a running Tracker with no instances; call [Tracker.Update] to
// give it some. It fails with an error wrapping [ErrConfig] when cfg is
// invalid.
func New(cfg Config) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	tr := newProbeTransport(&cfg.Probe)
	t := &Tracker{
		cfg:       cfg,
		n5xx:      int64(cfg.Outlier.Consecutive5xx),
		nGw:       int64(cfg.Outlier.ConsecutiveGatewayFailure),
		nProb:     int64(cfg.Outlier.ProbationSuccesses),
		changes:   make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		ctx:       ctx,
		cancel:    cancel,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// A redirect is an answer: judge the status the instance gave.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		insts: map[string]*inst{},
		timer: time.NewTimer(time.Hour),
	}
	t.timer.Stop()
	empty := map[string]*inst{}
	t.table.Store(&empty)
	t.states.Store(&[]State{})
	t.wg.Add(1)
	go t.run()
	return t, nil
}

// newProbeTransport returns the one transport of a Tracker's HTTP and gRPC
// probes.
func newProbeTransport(p *ProbeConfig) *http.Transport {
	if p.GRPC {
		return newGRPCProbeTransport(p)
	}
	tr := &http.Transport{
		// A probe measures whether a new connection gets an answer, as a
		// new client would; a kept-alive connection would hide a
		// listener that stopped accepting.
		DisableKeepAlives:  true,
		DisableCompression: true,
		Proxy:              nil,
	}
	if p.TLS != nil {
		tr.TLSClientConfig = probeTLS(p)
	}
	tr.DialTLSContext = p.DialTLS
	return tr
}

// Close stops all probes and the Tracker's goroutine and waits for them. It
// is idempotent. After Close, Update does nothing and Observe is ignored;
// Snapshot keeps returning the last states.
func (t *Tracker) Close() error {
	t.mu.Lock()
	t.closed = true
	t.cancel()
	t.mu.Unlock()
	t.wg.Wait()
	t.timer.Stop()
	t.transport.CloseIdleConnections()
	return nil
}

// Changes returns a channel that receives a value after the status or the
// effective weight of some instance changed (by more than a tenth), or the
// set of instances changed. Notices coalesce: one value may stand for many
// changes, so the receiver should read [Tracker.Snapshot] after each.
func (t *Tracker) Changes() <-chan struct{} { return t.changes }

// Snapshot returns the states of all instances, sorted by ID. The slice is
// the caller's to keep or modify. It does not block on the Tracker.
func (t *Tracker) Snapshot() []State { return slices.Clone(*t.states.Load()) }

// State returns the state of the instance with the given ID, and false if
// the Tracker does not know it.
func (t *Tracker) State(id string) (State, bool) {
	ss := *t.states.Load()
	i, ok := slices.BinarySearchFunc(ss, id, func(s State, id string) int {
		switch {
		case s.ID < id:
			return -1
		case s.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return State{}, false
	}
	return ss[i], true
}

// Update makes the Tracker track exactly the instances of view: it starts
// probing new instances (which start Healthy, so that a new instance takes
// traffic at once), stops probing removed ones and forgets them, and takes
// configured weights from the view. Instances are matched by ID; the
// service name is not checked. Update does not wait for probes.
//
// A new instance with [discovery.Instance.HealthUnknown] set (the registry
// listed it without vouching for its health) starts Unhealthy instead and
// enters service on its first passing probe; a failing first probe leaves
// it out until Probe.HealthyThreshold probes pass. With probing disabled it
// starts Healthy like any other: nothing else could vouch for it.
func (t *Tracker) Update(view discovery.ServiceView) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	seen := make(map[string]bool, len(view.Instances))
	changed := false
	for _, vi := range view.Instances {
		seen[vi.ID] = true
		in, ok := t.insts[vi.ID]
		if !ok {
			in = &inst{id: vi.ID, activeOK: true, sr: 1}
			if vi.HealthUnknown && !t.cfg.Probe.Disabled {
				// The registry listed it without vouching for it (a
				// Nacos protect threshold): out of service until its
				// first probe passes, as Envoy's
				// ignore_new_hosts_until_first_hc does.
				in.activeOK, in.awaitFirst = false, true
				in.probeReason = "awaiting its first probe: the registry does not vouch for its health"
			}
			t.insts[vi.ID] = in
			changed = true
		}
		if in.configured != vi.Weight {
			in.configured = vi.Weight
			changed = true
		}
		if !ok || in.addr != vi.Addr {
			in.addr = vi.Addr
			t.startProbe(in)
		}
	}
	for id, in := range t.insts {
		if !seen[id] {
			if in.stopProbe != nil {
				in.stopProbe()
			}
			delete(t.insts, id)
			changed = true
		}
	}
	if !changed {
		return
	}
	t.order = t.order[:0]
	m := make(map[string]*inst, len(t.insts))
	for id, in := range t.insts {
		t.order = append(t.order, id)
		m[id] = in
	}
	slices.Sort(t.order)
	t.table.Store(&m)
	now := time.Now()
	if !t.cfg.Outlier.Disabled {
		t.enforceCapLocked(now)
	}
	t.recomputeLocked(now)
}

// enforceCapLocked returns ejected instances to probation, those whose
// ejection ends first, until the caps hold again: at most
// MaxEjectionPercent of the instances ejected by the 5xx and success-rate
// detectors, at most MaxGatewayEjectionPercent by the gateway-failure
// detector, and at most the larger of the two in all, as ejectLocked
// allows (an ejection counts every ejected instance against its
// detector's cap). The caps are checked at each ejection; this keeps them
// when the service shrinks, since they exist to keep enough capacity in
// service.
func (t *Tracker) enforceCapLocked(now time.Time) {
	o := &t.cfg.Outlier
	var ejected, gateway []*inst
	for _, in := range t.insts {
		switch {
		case in.ejected && in.byGateway:
			gateway = append(gateway, in)
		case in.ejected:
			ejected = append(ejected, in)
		}
	}
	allowed := o.MaxEjectionPercent * len(t.insts) / 100
	if o.AlwaysEjectOne {
		allowed = max(allowed, 1)
	}
	// release ends the ejections of all but the allowed ones that end
	// last, and returns those it kept.
	release := func(ejected []*inst, allowed int) []*inst {
		if len(ejected) <= allowed {
			return ejected
		}
		slices.SortFunc(ejected, func(a, b *inst) int { return a.until.Compare(b.until) })
		for _, in := range ejected[:len(ejected)-allowed] {
			in.until = now // passiveLocked moves it to probation
		}
		return ejected[len(ejected)-allowed:]
	}
	gwAllowed := t.gwCap() * len(t.insts) / 100
	if o.AlwaysEjectOne {
		gwAllowed = max(gwAllowed, 1)
	}
	kept := release(ejected, allowed)
	kept = append(kept, release(gateway, gwAllowed)...)
	release(kept, max(allowed, gwAllowed))
}

// gwCap is the cap of the gateway-failure detector in percent.
func (t *Tracker) gwCap() int {
	if c := t.cfg.Outlier.MaxGatewayEjectionPercent; c > 0 {
		return c
	}
	return 100
}

// Observe records the outcome of one request to the instance with the given
// ID, as the proxy saw it. Unknown IDs are ignored. Observe does not block
// or allocate and takes no lock: it adds to the instance's atomic counters
// and, only when a counter crosses a threshold, wakes the Tracker's
// goroutine with a non-blocking channel send.
func (t *Tracker) Observe(id string, o Outcome) {
	in := (*t.table.Load())[id]
	if in == nil {
		return
	}
	switch o.Class {
	case Success:
		in.counts.Add(1<<32 | 1)
		in.measure(o.Latency)
		// Loads first: an uncontended read keeps the cache line shared.
		if in.consec5xx.Load() != 0 {
			in.consec5xx.Store(0)
		}
		if in.conGw.Load() != 0 {
			in.conGw.Store(0)
		}
		if in.inProbation.Load() && in.probSucc.Add(1) == t.nProb {
			t.signal()
		}
	case GatewayFailure:
		in.counts.Add(1)
		g, f := in.conGw.Add(1), in.consec5xx.Add(1)
		t.failed(in, g == t.nGw || f == t.n5xx)
	case ServerError:
		in.counts.Add(1)
		in.measure(o.Latency)
		if in.conGw.Load() != 0 {
			in.conGw.Store(0)
		}
		t.failed(in, in.consec5xx.Add(1) == t.n5xx)
	case ClientError:
		in.measure(o.Latency)
	}
}

const latShift = 24

func (in *inst) measure(d time.Duration) {
	if d > 0 {
		// At least 1µs, so that a sample never weighs nothing.
		in.lat.Add(max(uint64(d/time.Microsecond), 1)<<latShift | 1)
	}
}

func (t *Tracker) failed(in *inst, crossed bool) {
	if in.inProbation.Load() && !in.probFail.Swap(true) {
		crossed = true
	}
	if crossed {
		t.signal()
	}
}

func (t *Tracker) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// run is the Tracker's goroutine: it owns every decision.
func (t *Tracker) run() {
	defer t.wg.Done()
	wt := time.NewTicker(t.cfg.Weight.Interval)
	defer wt.Stop()
	var sweep <-chan time.Time
	if !t.cfg.Outlier.Disabled {
		ot := time.NewTicker(t.cfg.Outlier.Interval)
		defer ot.Stop()
		sweep = ot.C
	}
	for {
		var now time.Time
		weights, sweepNow, timerFired := false, false, false
		select {
		case <-t.ctx.Done():
			return
		case now = <-wt.C:
			weights = true
		case now = <-sweep:
			sweepNow = true
		case <-t.wake:
			now = time.Now()
		case now = <-t.timer.C:
			timerFired = true
		}
		t.mu.Lock()
		if timerFired {
			t.timerAt = time.Time{} // guarded by mu: armTimerLocked reads it
		}
		if weights {
			t.drainLocked()
		}
		if sweepNow {
			t.successRateLocked(now)
		}
		t.recomputeLocked(now)
		t.mu.Unlock()
	}
}

// drainLocked folds the counters Observe wrote since the last call into the
// averages and the success-rate window.
func (t *Tracker) drainLocked() {
	alpha := 1 - math.Exp(-float64(t.cfg.Weight.Interval)/float64(t.cfg.Weight.Decay))
	for _, in := range t.insts {
		c, l := in.counts.Swap(0), in.lat.Swap(0)
		r, s := c&(1<<32-1), c>>32
		ls, ln := float64(l>>latShift)*float64(time.Microsecond), l&(1<<latShift-1)
		in.winReqs += r
		in.winSucc += min(s, r)
		if ln > 0 {
			in.latAvg = peakEWMA(in.latAvg, ls/float64(ln), alpha, true, in.latSeeded)
			in.latSeeded = true
		}
		if r > 0 {
			in.sr = peakEWMA(in.sr, float64(min(s, r))/float64(r), alpha, false, in.srSeeded)
			in.srSeeded = true
		}
	}
}

// recomputeLocked applies passive triggers and ejection ends, recomputes
// the weights, publishes the
// snapshot and sends a change notice when something significant changed.
func (t *Tracker) recomputeLocked(now time.Time) {
	if t.closed {
		return
	}
	if !t.cfg.Outlier.Disabled {
		t.passiveLocked(now)
	}
	t.armTimerLocked()

	lats := make([]time.Duration, 0, len(t.insts))
	for _, id := range t.order {
		in := t.insts[id]
		if in.latSeeded && in.status().InService() {
			lats = append(lats, time.Duration(in.latAvg))
		}
	}
	ref, buf := median(lats, t.latBuf)
	t.latBuf = buf

	states := make([]State, 0, len(t.order))
	notify := len(t.order) != len(*t.states.Load())
	for _, id := range t.order {
		in := t.insts[id]
		st := in.state(ref, &t.cfg)
		if !in.notifiedSet || st.Status != in.notifiedSt || significant(in.notified, st.Weight) {
			in.notifiedSet, in.notifiedSt, in.notified = true, st.Status, st.Weight
			notify = true
		}
		states = append(states, st)
	}
	t.states.Store(&states)
	if notify {
		select {
		case t.changes <- struct{}{}:
		default:
		}
	}
}

// significant reports whether a weight moved from old to cur by more than a
// tenth, or to or from 0, so that the balancer is not rebuilt for noise.
func significant(old, cur uint32) bool {
	if old == cur {
		return false
	}
	if old == 0 || cur == 0 {
		return true
	}
	d := int64(cur) - int64(old)
	return d*10 > int64(old) || -d*10 > int64(old)
}

func (in *inst) status() Status {
	switch {
	case !in.activeOK:
		return Unhealthy
	case in.ejected:
		return Ejected
	case in.probation:
		return Probation
	}
	return Healthy
}

func (in *inst) state(ref time.Duration, c *Config) State {
	st := State{
		ID:          in.id,
		Status:      in.status(),
		Configured:  in.configured,
		Latency:     time.Duration(in.latAvg),
		SuccessRate: in.sr,
		Ejections:   in.ejections,
		Reason:      in.reason,
	}
	if in.ejected {
		st.EjectedUntil = in.until
	}
	if st.Status == Unhealthy {
		st.Reason = in.probeReason
	}
	if st.Status.InService() && in.configured > 0 {
		st.Weight = dynamicWeight(in.configured, st.Latency, ref, in.sr, &c.Weight)
		if st.Status == Probation {
			st.Weight = max(1, uint32(math.Round(float64(st.Weight)*c.Weight.ProbationFactor)))
		}
	}
	return st
}

// passiveLocked ends ejections that are over, moves probation instances
// on, and ejects instances whose consecutive counters crossed a threshold.
func (t *Tracker) passiveLocked(now time.Time) {
	for _, id := range t.order {
		in := t.insts[id]
		switch {
		case in.ejected:
			if !now.Before(in.until) {
				in.ejected = false
				in.until = time.Time{}
				in.probation = true
				in.probSucc.Store(0)
				in.probFail.Store(false)
				in.consec5xx.Store(0)
				in.conGw.Store(0)
				in.inProbation.Store(true)
				in.reason = fmt.Sprintf("probation after ejection %d", in.ejections)
			}
		case in.probation && in.probFail.Load():
			t.ejectLocked(in, now, "failure during probation", in.byGateway)
		case in.probation && in.probSucc.Load() >= t.nProb:
			in.probation = false
			in.inProbation.Store(false)
			in.reason = ""
		case t.nGw > 0 && in.conGw.Load() >= t.nGw:
			t.ejectLocked(in, now, fmt.Sprintf("%d consecutive gateway failures", in.conGw.Load()), true)
		case t.n5xx > 0 && in.consec5xx.Load() >= t.n5xx:
			t.ejectLocked(in, now, fmt.Sprintf("%d consecutive 5xx", in.consec5xx.Load()), false)
		}
	}
}

// ejectLocked ejects in unless that would exceed its detector's cap:
// MaxGatewayEjectionPercent for the gateway-failure detector (gateway
// true), MaxEjectionPercent for the others. It reports whether it did.
func (t *Tracker) ejectLocked(in *inst, now time.Time, why string, gateway bool) bool {
	o := &t.cfg.Outlier
	ejected := 0
	for _, x := range t.insts {
		if x.ejected {
			ejected++
		}
	}
	total := len(t.insts)
	limit := o.MaxEjectionPercent
	if gateway {
		limit = t.gwCap()
	}
	if (ejected+1)*100 > limit*total && !(o.AlwaysEjectOne && ejected == 0) {
		return false
	}
	in.byGateway = gateway
	in.ejected = true
	in.ejections++
	d := min(time.Duration(in.ejections)*o.BaseEjectionTime, o.MaxEjectionTime)
	in.until = now.Add(d)
	in.probation = false
	in.inProbation.Store(false)
	in.consec5xx.Store(0)
	in.conGw.Store(0)
	in.reason = fmt.Sprintf("ejected for %v: %s", d, why)
	return true
}

// successRateLocked runs the success-rate detector over the window that
// ends now, then starts a new window, and lets the ejection multiplier of
// healthy instances decay (as Envoy does each interval).
func (t *Tracker) successRateLocked(now time.Time) {
	o := &t.cfg.Outlier
	type cand struct {
		in   *inst
		rate float64
	}
	var cs []cand
	for _, id := range t.order {
		in := t.insts[id]
		if !in.ejected && in.winReqs >= uint64(o.SuccessRateRequestVolume) && in.winReqs > 0 {
			cs = append(cs, cand{in, float64(in.winSucc) / float64(in.winReqs)})
		}
		in.winReqs, in.winSucc = 0, 0
		if in.status() == Healthy && in.ejections > 0 {
			in.ejections--
		}
	}
	if o.SuccessRateMinimumHosts < 0 || len(cs) < o.SuccessRateMinimumHosts || len(cs) == 0 {
		return
	}
	var sum float64
	for _, c := range cs {
		sum += c.rate
	}
	mean := sum / float64(len(cs))
	var v float64
	for _, c := range cs {
		v += (c.rate - mean) * (c.rate - mean)
	}
	stdev := math.Sqrt(v / float64(len(cs)))
	threshold := mean - o.SuccessRateStdevFactor*stdev
	// Worst first, so that the ejection cap keeps the best.
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	for _, c := range cs {
		if c.rate >= threshold {
			break
		}
		t.ejectLocked(c.in, now, fmt.Sprintf("success rate %.3f below %.3f", c.rate, threshold), false)
	}
}

// armTimerLocked makes the timer fire at the earliest end of an ejection.
func (t *Tracker) armTimerLocked() {
	var at time.Time
	for _, in := range t.insts {
		if in.ejected && (at.IsZero() || in.until.Before(at)) {
			at = in.until
		}
	}
	if at.Equal(t.timerAt) {
		return
	}
	t.timerAt = at
	if at.IsZero() {
		t.timer.Stop()
		return
	}
	t.timer.Reset(max(time.Until(at), 0))
}
