package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/demo"
)

// Options configure a drill. The zero value runs every built-in scenario
// with the defaults written on each field.
type Options struct {
	// Scenarios to run, in order. Default: Scenarios (all).
	Scenarios []Scenario
	// Rate is the load in requests per second. Default 200.
	Rate int
	// Duration is the length of each scenario's measured run. Fault
	// scenarios inject their fault at a quarter of it and repair it at
	// three quarters. Default 30s; at least 4s.
	Duration time.Duration
	// Warmup is unmeasured load sent before each run, so that connections
	// and latency estimates are warm. Default 1s; negative means none.
	Warmup time.Duration
	// ServiceTime is the time every demo instance takes to answer, as real
	// work would. Default 5ms; negative means none.
	ServiceTime time.Duration
	// CrossCloudRTT is added to the answers of the instances outside the
	// gateway's cloud, to stand for the network between clouds that
	// loopback lacks. Default 20ms; negative means none.
	CrossCloudRTT time.Duration
	// Target, when set, is a URL the load is sent to instead of the demo
	// topology: your own gateway. Without FaultProxies no fault is
	// injected: the report has one scenario, "target", with one steady
	// phase, and no attempt counts.
	Target string
	// FaultProxies, with Target, are the admin URLs of `duohuo chaos
	// proxy` processes ("http://127.0.0.1:8474") standing in front of the
	// instances of one cloud of that gateway. The scenarios that break the
	// network (those with a Toxic: blackhole, brownout) run against
	// Target and set their toxic on these proxies during the fault phase;
	// it is removed at the repair, and also when ctx ends or the run
	// fails. The admin API counts connections only, which health probes
	// open too: the report gives them, and says the attempt and share
	// targets are not measured. The other scenarios need the demo topology
	// and are skipped.
	FaultProxies []string
	// Patient runs the demo topology with stretched timeouts
	// (demo.Options.Patient): for tests on a busy machine, which assert
	// where traffic goes, not how fast. The latency targets are then not
	// the product's. Default false.
	Patient bool
	// PerTryTimeout is the per-try timeout the blackhole's p99 target
	// allows for when the gateway does not report the one in force: a
	// route with the product's defaults configures none, and a Target
	// cannot be asked. Default 1s.
	PerTryTimeout time.Duration
	// Progress receives a progress line at most once per second; nil
	// means none.
	Progress io.Writer
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if len(o.Scenarios) == 0 {
		o.Scenarios = Scenarios
	}
	if o.Rate == 0 {
		o.Rate = 200
	}
	if o.Duration == 0 {
		o.Duration = 30 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = time.Second
	}
	if o.ServiceTime == 0 {
		o.ServiceTime = 5 * time.Millisecond
	}
	if o.CrossCloudRTT == 0 {
		o.CrossCloudRTT = 20 * time.Millisecond
	}
	if o.PerTryTimeout == 0 {
		o.PerTryTimeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// ErrBadOptions is returned by Run for options it cannot run.
var ErrBadOptions = errors.New("drill: bad options")

// Check returns an error wrapping ErrBadOptions if Run would refuse o
// (after applying the defaults).
func (o Options) Check() error { return o.withDefaults().check() }

func (o Options) check() error {
	switch {
	case o.Rate < 0:
		return fmt.Errorf("%w: rate %d: must be positive", ErrBadOptions, o.Rate)
	case o.Duration < 4*time.Second:
		return fmt.Errorf("%w: duration %v: must be at least 4s (a second per phase and the recovery window)", ErrBadOptions, o.Duration)
	case o.Duration > time.Hour:
		return fmt.Errorf("%w: duration %v: must be at most 1h", ErrBadOptions, o.Duration)
	case o.PerTryTimeout < 0:
		return fmt.Errorf("%w: per-try timeout %v: must not be negative", ErrBadOptions, o.PerTryTimeout)
	}
	if o.Target != "" {
		if !httpURL(o.Target) {
			return fmt.Errorf("%w: target %q: want an http:// or https:// URL", ErrBadOptions, o.Target)
		}
	}
	if len(o.FaultProxies) > 0 {
		if o.Target == "" {
			return fmt.Errorf("%w: fault proxies without a target: the demo topology has fault proxies of its own", ErrBadOptions)
		}
		for _, u := range o.FaultProxies {
			if !httpURL(u) {
				return fmt.Errorf("%w: fault proxy %q: want the http:// URL of a duohuo chaos proxy --admin", ErrBadOptions, u)
			}
		}
		if len(networkScenarios(o.Scenarios)) == 0 {
			return fmt.Errorf("%w: fault proxies: none of the scenarios breaks the network (want blackhole or brownout)", ErrBadOptions)
		}
	}
	return Load{Rate: o.Rate, Duration: o.Duration}.check()
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// networkScenarios returns the scenarios of ss that break the network
// through fault proxies.
func networkScenarios(ss []Scenario) []Scenario {
	var out []Scenario
	for _, s := range ss {
		if s.Toxic != nil {
			out = append(out, s)
		}
	}
	return out
}

func (o Options) serviceTime() time.Duration { return max(o.ServiceTime, 0) }

// baseLatency is the latency a healthy backend answers with.
func (o Options) baseLatency(b *demo.Backend) time.Duration {
	d := o.serviceTime()
	if b.Identity().Cloud != localName {
		d += max(o.CrossCloudRTT, 0)
	}
	return d
}

// slowLatency is ten times a local instance's service time, at least 10ms.
func (o Options) slowLatency() time.Duration { return max(10*o.serviceTime(), 10*time.Millisecond) }

// Run runs the scenarios one after the other, each against a fresh demo
// topology on loopback, and returns the report. It blocks for about
// len(Scenarios) × (Duration + Warmup + 2s) and stops early, returning
// ctx's error with the scenarios done so far, when ctx ends. A fault on
// is always repaired before Run returns.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	rep := &Report{
		Started:       time.Now().UTC(),
		Rate:          o.Rate,
		Duration:      o.Duration,
		ServiceTime:   o.serviceTime(),
		CrossCloudRTT: max(o.CrossCloudRTT, 0),
		Host:          hostInfo(),
	}
	if o.Target != "" {
		srs, err := runTarget(ctx, o)
		rep.Scenarios = append(rep.Scenarios, srs...)
		rep.Host.LoadAvgAfter = loadAvg()
		if err != nil {
			return rep, fmt.Errorf("target %s: %w", o.Target, err)
		}
		return rep, nil
	}
	for _, sc := range o.Scenarios {
		sr, err := runScenario(ctx, o, sc)
		if err != nil {
			return rep, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	rep.Host.LoadAvgAfter = loadAvg()
	return rep, nil
}

// interval is a span of the run during which the fault is on.
type interval struct{ down, up time.Duration }

// timeline returns the fault intervals of sc for a run of d.
func timeline(sc Scenario, d time.Duration) []interval {
	if !sc.HasFault() {
		return nil
	}
	from, to := d/4, 3*d/4
	if sc.Flap <= 0 {
		return []interval{{from, to}}
	}
	var out []interval
	for t := from; t < to; t += 2 * sc.Flap {
		out = append(out, interval{t, min(t+sc.Flap, to)})
	}
	return out
}

// attemptSnap is the gateway's attempt counters at one moment of the run.
type attemptSnap struct {
	at            time.Duration // from the start of the run
	faulty, total float64
}

// Where the per-try timeout in a report comes from.
const (
	// TryTimeoutGateway: the demo gateway reported it, the configured or
	// the adaptive per-try timeout in force on its route when the fault
	// started.
	TryTimeoutGateway = "gateway"
	// TryTimeoutBound: the gateway reports none (a Target cannot be
	// asked); Options.PerTryTimeout (--per-try-timeout) stands for it.
	TryTimeoutBound = "bound"
)

// rig is what one scenario's run drives besides the load.
type rig struct {
	// inject breaks the faulty set and restore repairs it; nil without a
	// fault. restore may be called when nothing is broken.
	inject, restore func(context.Context) error
	// reg holds the demo gateway's metrics (nil for a target) and addrs
	// the faulty instances' addresses in its labels.
	reg   *prometheus.Registry
	addrs map[string]bool
	// px counts what arrives at the fault proxies; nil if there are none.
	px *proxyFault
	// tryTimeout reads the per-try timeout in force on the gateway's
	// route, 0 if it has none; nil for a target.
	tryTimeout func() time.Duration
}

func runScenario(ctx context.Context, o Options, sc Scenario) (ScenarioReport, error) {
	sr := ScenarioReport{Name: sc.Name, Row: sc.Row, Title: sc.Title}
	reg := prometheus.NewRegistry()
	top, err := demo.Start(demo.Options{
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BasePort: -1, Spread: sc.Spread,
		FaultProxies: sc.Toxic != nil, ProductDefaults: sc.Defaults, Patient: o.Patient,
	}, reg, o.Logger)
	if err != nil {
		return sr, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		top.Shutdown(sctx)
	}()
	for _, b := range top.Backends {
		b.SetLatency(o.baseLatency(b))
	}
	sr.TryTimeout, sr.TryTimeoutFrom = o.PerTryTimeout, TryTimeoutBound
	r := rig{reg: reg, addrs: map[string]bool{}}
	if rt := top.Config.Routes; len(rt) > 0 {
		route := rt[0].Name
		r.tryTimeout = func() time.Duration { return top.Gateway.PerTryTimeout(route) }
	}
	if err := waitReady(ctx, top); err != nil {
		return sr, err
	}
	if sc.HasFault() {
		faulty := sc.Faulty(top)
		for _, b := range faulty {
			sr.Faulty = append(sr.Faulty, b.Identity().Name)
		}
		if sc.Toxic != nil {
			fps := top.ProxiesOf(faulty)
			pf := demoProxyFault(*sc.Toxic, fps, top.Proxies)
			r.inject, r.restore, r.px = pf.inject, pf.restore, &pf
			for _, p := range fps {
				r.addrs[p.Addr()] = true // the gateway knows the instance by its proxy
			}
		} else {
			r.inject = func(context.Context) error { return sc.Inject(o, faulty) }
			r.restore = func(context.Context) error { return sc.Restore(o, faulty) }
			for _, b := range faulty {
				r.addrs[b.Addr()] = true
			}
		}
	}
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	err = drive(ctx, o, sc, &sr, HTTPGet(&http.Client{Transport: tr}, top.URL()+"/drill"), r)
	return sr, err
}

// drive runs sc's load against target with r's fault injected on schedule
// and its counters polled, and analyzes the run into sr. A fault injected
// is repaired before drive returns. It returns ctx's error if ctx ended.
func drive(ctx context.Context, o Options, sc Scenario, sr *ScenarioReport, target Target, r rig) error {
	if o.Warmup > 0 {
		if _, err := (Load{Rate: o.Rate, Duration: o.Warmup}).Run(ctx, target); err != nil {
			return err
		}
	}
	var ivs []interval
	if r.inject != nil {
		ivs = timeline(sc, o.Duration)
	}
	load := Load{Rate: o.Rate, Duration: o.Duration, Start: time.Now().Add(50 * time.Millisecond)}
	rec, err := NewRecording(load)
	if err != nil {
		return err
	}

	// Goroutines of the run, each owned here: stopped by cancel, waited by wg.
	hctx, cancel := context.WithCancel(ctx)
	var (
		wg        sync.WaitGroup
		snaps     []attemptSnap // written by its poller until wg.Wait
		psnaps    []proxySnap   // likewise
		eventErrs []error       // written by the events goroutine until wg.Wait
	)
	if r.reg != nil {
		wg.Go(func() { snaps = pollAttempts(hctx, r.reg, r.addrs, rec.Start()) })
	}
	if r.px != nil {
		wg.Go(func() { psnaps = pollProxies(hctx, *r.px, rec.Start()) })
	}
	if r.inject != nil {
		wg.Go(func() { eventErrs = runEvents(hctx, r.inject, r.restore, ivs, rec.Start()) })
	}
	var tsnaps []tryTimeoutSnap // written by its poller until wg.Wait
	if r.tryTimeout != nil {
		wg.Go(func() { tsnaps = pollTryTimeout(hctx, r.tryTimeout, rec.Start()) })
	}
	wg.Go(func() { progress(hctx, o, sc, rec) })
	load.RunInto(ctx, target, rec)
	cancel()
	wg.Wait()
	if r.reg != nil {
		if last, err := gatherAttempts(r.reg, r.addrs); err == nil {
			snaps = append(snaps, attemptSnap{at: time.Since(rec.Start()), faulty: last.faulty, total: last.total})
		}
	}
	for _, err := range eventErrs {
		sr.Errors = append(sr.Errors, err.Error())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, hi := tryTimeoutAt(tsnaps, ivs); d > 0 {
		sr.TryTimeout, sr.TryTimeoutMax, sr.TryTimeoutFrom = d, hi, TryTimeoutGateway
	}
	analyze(sr, o, sc, rec.Samples(), snaps, psnaps, ivs)
	return nil
}

// tryTimeoutSnap is the per-try timeout in force at one moment of the run.
type tryTimeoutSnap struct {
	at time.Duration // from the start of the run
	d  time.Duration
}

// pollTryTimeout reads the per-try timeout in force every 100ms (the
// gateway recomputes an adaptive one as often) until ctx ends.
func pollTryTimeout(ctx context.Context, read func() time.Duration, start time.Time) []tryTimeoutSnap {
	var out []tryTimeoutSnap
	tick := time.NewTicker(BucketWidth)
	defer tick.Stop()
	for {
		out = append(out, tryTimeoutSnap{at: time.Since(start), d: read()})
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}

// tryTimeoutAt returns the per-try timeout in force when the first fault
// started (at the start of the run without a fault) and the largest one
// while faults were on; 0, 0 if the gateway reported none.
func tryTimeoutAt(snaps []tryTimeoutSnap, ivs []interval) (at, hi time.Duration) {
	if len(snaps) == 0 {
		return 0, 0
	}
	at = snaps[0].d
	if len(ivs) == 0 {
		return at, at
	}
	for _, s := range snaps {
		if s.at <= ivs[0].down {
			at = s.d
		}
		for _, iv := range ivs {
			if s.at >= iv.down && s.at < iv.up {
				hi = max(hi, s.d)
			}
		}
	}
	if at == 0 {
		return 0, 0
	}
	return at, max(hi, at)
}

// targetScenario names the load sent to Options.Target.
var targetScenario = Scenario{Name: "target", Row: "-", Title: "steady load against a given URL"}

// runTarget sends the load to o.Target: one steady phase, or with
// o.FaultProxies each network scenario through the user's fault proxies.
func runTarget(ctx context.Context, o Options) ([]ScenarioReport, error) {
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	target := HTTPGet(&http.Client{Transport: tr}, o.Target)
	if len(o.FaultProxies) == 0 {
		sr := ScenarioReport{Name: targetScenario.Name, Row: targetScenario.Row, Title: targetScenario.Title + ": " + o.Target}
		err := drive(ctx, o, targetScenario, &sr, target, rig{})
		return []ScenarioReport{sr}, err
	}
	a := newAdminProxies(o.FaultProxies)
	defer a.close()
	st, err := a.statuses(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range st {
		names = append(names, s.Addr+" → "+s.Upstream)
	}
	var out []ScenarioReport
	for _, sc := range networkScenarios(o.Scenarios) {
		sr := ScenarioReport{
			Name: sc.Name, Row: sc.Row, Title: fmt.Sprintf("%s: %s, through %d fault proxies", sc.Title, o.Target, len(names)),
			Faulty: names, TryTimeout: o.PerTryTimeout, TryTimeoutFrom: TryTimeoutBound,
		}
		pf := a.fault(*sc.Toxic)
		err := func() error {
			// However the run ends, the user's proxies are left clean.
			defer func() {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
				defer cancel()
				if err := pf.restore(rctx); err != nil {
					sr.Errors = append(sr.Errors, fmt.Sprintf("restore at exit: %v", err))
				}
			}()
			return drive(ctx, o, sc, &sr, target, rig{inject: pf.inject, restore: pf.restore, px: &pf})
		}()
		out = append(out, sr)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
	}
	return out, nil
}

// restoreTimeout bounds a repair that runs after the run's context ended.
const restoreTimeout = 5 * time.Second

// waitReady polls the gateway until it has healthy instances.
func waitReady(ctx context.Context, top *demo.Topology) error {
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := top.Gateway.Ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not ready after 15s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// runEvents injects and repairs the fault on schedule. It returns when the
// last repair is done or ctx ends; a fault still on is then repaired, with
// a context of its own.
func runEvents(ctx context.Context, inject, restore func(context.Context) error, ivs []interval, start time.Time) []error {
	var errs []error
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	wait := func(at time.Duration) bool {
		t.Reset(time.Until(start.Add(at)))
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, iv := range ivs {
		if !wait(iv.down) {
			return errs
		}
		if err := inject(ctx); err != nil {
			errs = append(errs, fmt.Errorf("inject at %v: %w", iv.down, err))
		}
		ok := wait(iv.up)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
		if err := restore(rctx); err != nil {
			errs = append(errs, fmt.Errorf("restore at %v: %w", iv.up, err))
		}
		cancel()
		if !ok {
			return errs
		}
	}
	return errs
}

// pollInterval is the resolution of the time until no attempt reaches the
// faulty instances.
const pollInterval = 20 * time.Millisecond

// pollAttempts samples the gateway's attempt counters until ctx ends.
func pollAttempts(ctx context.Context, reg *prometheus.Registry, addrs map[string]bool, start time.Time) []attemptSnap {
	var out []attemptSnap
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if s, err := gatherAttempts(reg, addrs); err == nil {
			s.at = time.Since(start)
			out = append(out, s)
		}
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
	}
}

// gatherAttempts sums duohuo_upstream_attempts_total over the instances in
// addrs and over all instances.
func gatherAttempts(reg *prometheus.Registry, addrs map[string]bool) (attemptSnap, error) {
	var s attemptSnap
	mfs, err := reg.Gather()
	if err != nil {
		return s, err
	}
	for _, mf := range mfs {
		if mf.GetName() != "duohuo_upstream_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue()
			s.total += v
			for _, l := range m.GetLabel() {
				if l.GetName() == "instance" && addrs[l.GetValue()] {
					s.faulty += v
				}
			}
		}
	}
	return s, nil
}

// progress writes a line per second until ctx ends.
func progress(ctx context.Context, o Options, sc Scenario, rec *Recording) {
	if o.Progress == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p := rec.Progress()
		succ := 100.0
		if p.Done > 0 {
			succ = 100 * float64(p.OK) / float64(p.Done+p.Dropped)
		}
		el := time.Since(rec.Start()).Truncate(time.Second)
		fmt.Fprintf(o.Progress, "  %-8s %4v/%v  sent %6d  ok %7.3f%%  p99 %7s  dropped %d\n",
			sc.Name, max(el, 0), o.Duration, p.Sent, succ, ms(p.P99), p.Dropped)
	}
}

// hostInfo describes the machine the drill ran on.
func hostInfo() Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadAvgBefore: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return h
}

// loadAvg returns the one-minute load average on Linux, "" elsewhere.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
