package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/drill"
)

// The drill tests run each scenario of the drill table (docs/drills.md)
// for a few seconds at 100 rps against a fresh demo topology and assert what
// the gateway does: where traffic goes, which requests succeed, that every
// outage is recovered from. Latency and recovery-time targets are not
// asserted here — a busy machine changes them, not the gateway — but by
// `duohuo drill --strict` (bench/drill.sh) on a quiet one; these tests log
// them. The machine is two cores shared with other builds and the race
// detector slows the gateway several times, hence the modest rate; each
// margin is written out.
const (
	drillRate = 100
	// controlP99 is the steady-state hypothesis checked on the phase before
	// the fault (the control): above it, or below 100% success, the machine
	// stalled the gateway for longer than its health probes wait, and the
	// scenario is run again, up to drillTries times. The topology runs with
	// demo.Options.Patient (probes wait 2s, tries 5s), so that a machine
	// whose cores are all busy (p99 of 0.7–1.8s was seen with the race
	// detector and two CPU hogs) does not make healthy instances look sick.
	controlP99 = 2 * time.Second
	drillTries = 3
)

// runDrill runs one scenario until its control phase holds, and returns its
// report. maxP99 is the control's latency bound: controlP99, or 0 where
// the assertions are about routing only and a slow machine cannot change
// them.
func runDrill(t *testing.T, sc drill.Scenario, d, maxP99 time.Duration) drill.ScenarioReport {
	t.Helper()
	var last drill.ScenarioReport
	for try := 1; try <= drillTries; try++ {
		rep, err := drill.Run(t.Context(), drill.Options{Scenarios: []drill.Scenario{sc}, Rate: drillRate, Duration: d, Warmup: 500 * time.Millisecond, Patient: true})
		if err != nil {
			t.Fatalf("drill %s: %v", sc.Name, err)
		}
		var md strings.Builder
		rep.WriteSummary(&md)
		t.Logf("try %d:\n%s", try, md.String())
		last = rep.Scenarios[0]
		control := last.Phases[0] // "before", or "steady" without a fault
		if control.SuccessRate == 1 && (maxP99 == 0 || control.P99 <= maxP99) {
			return last
		}
		t.Logf("control phase disturbed (success %.4f, p99 %v): the machine is busy; running %s again", control.SuccessRate, control.P99, sc.Name)
	}
	t.Fatalf("drill %s: the control phase never held in %d tries (last success %.4f, p99 %v): the machine is too busy to measure",
		sc.Name, drillTries, last.Phases[0].SuccessRate, last.Phases[0].P99)
	return last
}

func phase(t *testing.T, sr drill.ScenarioReport, name string) drill.Phase {
	t.Helper()
	p, ok := sr.Phase(name)
	if !ok {
		t.Fatalf("scenario %s has no phase %q", sr.Name, name)
	}
	return p
}

func share(p drill.Phase, cloud string) float64 {
	if p.OK == 0 {
		return 0
	}
	return float64(p.ByCloud[cloud]) / float64(p.OK)
}

// (a) Steady traffic stays in the local cloud and succeeds.
func TestDrillSteadyStaysInTheLocalCloud(t *testing.T) {
	sr := runDrill(t, drill.Steady, 5*time.Second, controlP99)
	p := phase(t, sr, "steady")
	if p.Requests != 5*drillRate {
		t.Errorf("requests = %d, want %d (open loop: every tick is a request)", p.Requests, 5*drillRate)
	}
	// Margin: a stall of the busy machine longer than the probes' 2s can
	// spill a few requests to another cloud.
	if s := share(p, "ctyun"); s < 0.95 {
		t.Errorf("share served by ctyun = %.3f, want ≥ 0.95 (all, less probe noise)", s)
	}
}

// (b) Every local instance killed: target success ≥ 99.99%, recovery ≤ 1s,
// p99 ≤ 1.5 × steady p99 + try timeout.
func TestDrillFailoverKeepsAnswering(t *testing.T) {
	sr := runDrill(t, drill.Failover, 8*time.Second, controlP99)
	before, fault, after := phase(t, sr, "before"), phase(t, sr, "fault"), phase(t, sr, "after")
	// Margin: at 100 rps for 4s the 99.99% target allows no failed request
	// of 400; the test allows 2 (99.5%).
	if failed := fault.Requests - fault.OK; failed > 2 {
		t.Errorf("success during failover = %.4f (failures %v), want at most 2 failed requests (target 99.99%%)", fault.SuccessRate, fault.Failures)
	}
	if f := sr.Fault; f.TimeToRecover < 0 {
		t.Errorf("the fault phase never had a window at 99.9%% success: the gateway did not recover")
	}
	if f := sr.Fault; f.TimeToNoAttempts < 0 {
		t.Errorf("attempts to the dead instances went on until the repair")
	}
	t.Logf("time to recover %v (target 1s), attempts gone after %v, p99 %v (target 1.5 × steady p99 %v + try timeout %v)",
		sr.Fault.TimeToRecover, sr.Fault.TimeToNoAttempts, fault.P99, before.P99, sr.TryTimeout)
	if s := share(fault, "ctyun"); s != 0 {
		t.Errorf("share served by the dead cloud = %v, want 0", s)
	}
	if after.SuccessRate < 0.999 {
		t.Errorf("success after the cloud returned = %.4f (failures %v), want ≥ 0.999", after.SuccessRate, after.Failures)
	}
}

// (c) Without a site, traffic spreads over the three clouds.
func TestDrillMixedSpreadsOverThreeClouds(t *testing.T) {
	// Every instance is in rotation and shares are wide: a stall changes
	// neither, so only the control's success is checked.
	sr := runDrill(t, drill.Mixed, 5*time.Second, 0)
	p := phase(t, sr, "steady")
	// The other clouds answer 20ms later (the simulated RTT), so P2C
	// peak-EWMA favours ctyun; each cloud still takes a real share.
	for _, c := range []string{"ctyun", "ecloud", "huawei"} {
		if s := share(p, c); s < 0.10 {
			t.Errorf("share served by %s = %.3f, want ≥ 0.10 (by cloud %v)", c, s, p.ByCloud)
		}
	}
}

// (d) One instance ten times slower. Target: p99 back within 1.2 × steady
// within 5s, because the slow instance loses its share (docs/drills.md).
// This test asserts the cause, which a busy machine cannot change: the slow
// instance loses most of its share. The p99 is logged.
func TestDrillSlowInstanceLosesItsShare(t *testing.T) {
	// 16s: the fault phase runs from 4s to 12s, and the p99 from 5s after
	// the slowdown covers 300 requests.
	sr := runDrill(t, drill.Slow, 16*time.Second, controlP99)
	before := phase(t, sr, "before")
	f := sr.Fault
	// A third of the traffic is its fair share. On a quiet machine it gets
	// 1–3%; a busy one slows the other instances too (a steady p99 of 77ms
	// against the 50ms the fault adds was seen), which narrows the gap the
	// balancer sees, and the share rises to about 20%. The test asks that
	// it clearly lost share: below 30%.
	if f.FaultyShare >= 0.30 {
		t.Errorf("the slow instance got %.1f%% of the attempts, want < 30%% (its fair share is 33.3%%; steady p99 %v)", 100*f.FaultyShare, before.P99)
	}
	t.Logf("p99 from 5s after the slowdown %v (steady %v); the target 1.2 × steady p99 = %v", f.SettledP99, before.P99, f.P99Limit)
}

// (e) One instance answering 503: target success ≥ 99.9% with retries and
// attempts ≤ 1.2 × requests.
func TestDrillErrorsAreRetriedWithoutAStorm(t *testing.T) {
	sr := runDrill(t, drill.Errors, 8*time.Second, controlP99)
	fault := phase(t, sr, "fault")
	// Margin: 99.5% for the 99.9% target.
	if fault.SuccessRate < 0.995 {
		t.Errorf("success with a 503 instance = %.4f (failures %v), want ≥ 0.995 (target 0.999)", fault.SuccessRate, fault.Failures)
	}
	// No margin needed: attempts per request is a count, not a timing.
	if fault.AttemptsPerRequest > 1.2 {
		t.Errorf("attempts per request = %.3f, want ≤ 1.2", fault.AttemptsPerRequest)
	}
}

// (f) A flapping cloud: every outage is recovered from.
func TestDrillFlappingCloudIsRecoveredFromEachTime(t *testing.T) {
	sr := runDrill(t, drill.Flap, 12*time.Second, controlP99)
	fault := phase(t, sr, "fault")
	if fault.SuccessRate < 0.995 {
		t.Errorf("success while the cloud flaps = %.4f (failures %v), want ≥ 0.995", fault.SuccessRate, fault.Failures)
	}
	if f := sr.Fault; f.Intervals != 2 || f.TimeToRecover < 0 {
		t.Errorf("%d outages, worst time to recover %v; want 2 outages, each recovered from", f.Intervals, f.TimeToRecover)
	}
	t.Logf("worst time to recover %v", sr.Fault.TimeToRecover)
}

// The drill stops when its context ends and reports it.
func TestDrillStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := drill.Run(ctx, drill.Options{Scenarios: []drill.Scenario{drill.Steady}, Duration: time.Minute})
	if err == nil || ctx.Err() == nil {
		t.Fatalf("Run under a 2s context = %v, want the context's error", err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("Run returned %v after start, want soon after the 2s context ended", el)
	}
}
