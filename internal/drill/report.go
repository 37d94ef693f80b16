package drill

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is the result of a drill. It is plain data: encode it with
// WriteJSON, render it with WriteMarkdown or WriteSummary. Its methods only
// read it, so they may run concurrently with each other.
type Report struct {
	Started       time.Time        `json:"started"`
	Rate          int              `json:"rate"`
	Duration      time.Duration    `json:"duration_ns"` // of each scenario's measured run
	ServiceTime   time.Duration    `json:"service_time_ns"`
	CrossCloudRTT time.Duration    `json:"cross_cloud_rtt_ns"`
	Host          Host             `json:"host"`
	Scenarios     []ScenarioReport `json:"scenarios"`
}

// Host describes the machine a drill ran on.
type Host struct {
	OS            string `json:"os"`
	Arch          string `json:"arch"`
	CPU           string `json:"cpu,omitempty"`
	CPUs          int    `json:"cpus"`
	GoVersion     string `json:"go_version"`
	LoadAvgBefore string `json:"loadavg_before,omitempty"` // 1, 5, 15 minutes
	LoadAvgAfter  string `json:"loadavg_after,omitempty"`
}

// ScenarioReport is one scenario's result.
type ScenarioReport struct {
	Name       string        `json:"name"`
	Row        string        `json:"row"`
	Title      string        `json:"title"`
	Faulty     []string      `json:"faulty,omitempty"` // instances (or fault proxies) the fault acted on
	TryTimeout time.Duration `json:"try_timeout_ns"`   // the per-try timeout the targets allow for
	// TryTimeoutFrom says where TryTimeout comes from: TryTimeoutGateway
	// (the one in force when the fault started) or TryTimeoutBound.
	TryTimeoutFrom string `json:"try_timeout_from,omitempty"`
	// TryTimeoutMax is the largest per-try timeout the gateway reported
	// while the fault was on (an adaptive one follows the latencies); 0
	// when it reports none.
	TryTimeoutMax time.Duration `json:"try_timeout_max_ns,omitempty"`
	// GatewayAttempts reports whether the gateway's attempt counters
	// (duohuo_upstream_attempts_total) were read: in the demo, not for a
	// Target. Without them the phases' attempts and the fault's
	// TimeToNoAttempts, FaultyAttempts and FaultyShare are not measured.
	GatewayAttempts bool         `json:"gateway_attempts"`
	Phases          []Phase      `json:"phases"`
	Fault           *FaultReport `json:"fault,omitempty"`
	Checks          []Check      `json:"checks,omitempty"`
	Windows         []Window     `json:"windows"`
	Errors          []string     `json:"errors,omitempty"` // fault injection that went wrong
}

// Phase is a part of a scenario's run with its statistics.
type Phase struct {
	Name string        `json:"name"` // steady, before, fault, after
	From time.Duration `json:"from_ns"`
	To   time.Duration `json:"to_ns"`
	Summary
	// Attempts is the number of attempts the gateway sent to instances
	// during the phase (duohuo_upstream_attempts_total); AttemptsPerRequest
	// divides it by Requests (1 means no retries).
	Attempts           float64 `json:"attempts"`
	AttemptsPerRequest float64 `json:"attempts_per_request"`
}

// FaultReport measures a scenario's fault. Durations are -1 when the thing
// measured never happened.
type FaultReport struct {
	At        time.Duration `json:"at_ns"`    // first injection
	Until     time.Duration `json:"until_ns"` // last repair
	Intervals int           `json:"intervals"`
	// TimeToRecover is the worst, over the fault's intervals, of the time
	// from the injection to the first one-second window at 99.9% success
	// or better.
	TimeToRecover time.Duration `json:"time_to_recover_ns"`
	// TimeToNoAttempts is the worst time from an injection to the last
	// attempt the gateway sent to a faulty instance before the repair (at
	// 20ms resolution), -1 if attempts were still going on at the repair;
	// FaultyAttempts counts those attempts and FaultyShare divides them by
	// all the attempts sent while the fault was on.
	TimeToNoAttempts time.Duration `json:"time_to_no_attempts_ns"`
	FaultyAttempts   float64       `json:"faulty_attempts"`
	FaultyShare      float64       `json:"faulty_share"`
	// TimeToP99 is the time from the first injection to the first
	// one-second window whose p99 is at most P99Limit, 1.2 × the p99 before
	// the fault.
	TimeToP99 time.Duration `json:"time_to_p99_ns"`
	P99Limit  time.Duration `json:"p99_limit_ns"`
	// SettledP99 is the p99 of the fault phase from 5s after the first
	// injection, -1 if the phase is shorter.
	SettledP99 time.Duration `json:"settled_p99_ns"`
	// SuccessFrom2s is the success rate of the requests scheduled from
	// SettleTime (2s) after the first injection to the last repair.
	SuccessFrom2s float64 `json:"success_from_2s"`
	// OverTryTimeout counts the requests of the fault phase that failed or
	// took longer than the per-try timeout plus the p99 before the fault
	// (the blackhole's p99 bound): the p99 meets the bound while they are
	// at most 1% of the phase.
	OverTryTimeout int `json:"over_try_timeout"`
	// Proxies is what the fault proxies saw, for the scenarios that break
	// the network; nil for the others.
	Proxies *ProxyReport `json:"proxies,omitempty"`
}

// ProxyReport is what arrived from the gateway at the fault proxies during
// a network fault: the attempts the gateway really sent, counted where
// they arrive rather than where the gateway accounts for them. Times are
// from the first injection, at the resolution of the proxies' polling
// (20ms in the demo, 50ms through admin APIs).
type ProxyReport struct {
	// Counted says what an attempt is here: "requests" (request bytes
	// arriving, in the demo) or "connections" (new connections, all that
	// the admin API of `duohuo chaos proxy` counts; health probes open
	// them too, so they bound the attempts from above).
	Counted string `json:"counted"`
	// LastAttempt is the time of the last attempt that reached the faulty
	// set during the fault, 0 if none did; LastConn that of the last new
	// connection.
	LastAttempt time.Duration `json:"last_attempt_ns"`
	LastConn    time.Duration `json:"last_conn_ns"`
	// LateAttempts and LateConns count the attempts and new connections
	// that reached the faulty set from SettleTime after the injection to
	// the repair.
	LateAttempts int64 `json:"late_attempts"`
	LateConns    int64 `json:"late_conns"`
	// TrafficLeft is the time until traffic left the faulty set: the start
	// of the first one-second window from which every window up to the
	// repair has less than LeftShare of the requests arriving at all
	// proxies. -1 if it never left, or where the share is not known (only
	// the faulty set's proxies are counted: --target).
	TrafficLeft time.Duration `json:"traffic_left_ns"`
	// ShareBefore, ShareFault and ShareLate are the faulty set's share of
	// the requests before the fault, during it, and from SettleTime after
	// it to the repair; -1 where not known.
	ShareBefore float64 `json:"share_before"`
	ShareFault  float64 `json:"share_fault"`
	ShareLate   float64 `json:"share_late"`
	// Buckets cut the whole run into BucketWidth (100ms) slices.
	Buckets []Bucket `json:"buckets"`
}

// Bucket is BucketWidth of a run: the client's requests scheduled in it,
// and what arrived at the fault proxies meanwhile. Counts the proxies do
// not keep are -1.
type Bucket struct {
	At time.Duration `json:"at_ns"` // start, from the start of the run
	// Sent and OK count the requests scheduled in the bucket and those
	// that succeeded; Max is the longest latency among them (the
	// longest-waiting request, dropped ones aside).
	Sent int           `json:"sent"`
	OK   int           `json:"ok"`
	Max  time.Duration `json:"max_ns"`
	// FaultyConns, FaultyRequests and FaultyBytes arrived at the faulty
	// set's proxies: new connections, requests and request bytes.
	FaultyConns    int64 `json:"faulty_conns"`
	FaultyRequests int64 `json:"faulty_requests"`
	FaultyBytes    int64 `json:"faulty_bytes"`
	// AllRequests arrived at every proxy, faulty or not.
	AllRequests int64 `json:"all_requests"`
}

// Check is one of the drill's targets evaluated on a run (see the targets
// in docs/drills.md).
type Check struct {
	What   string `json:"what"`
	Target string `json:"target"`
	Got    string `json:"got"`
	Pass   bool   `json:"pass"`
}

// Phase returns the named phase, and false if there is none.
func (s ScenarioReport) Phase(name string) (Phase, bool) {
	for _, p := range s.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// analyze fills sr from the run's samples, the gateway's attempt snapshots
// and the fault proxies' snapshots (either may be nil).
func analyze(sr *ScenarioReport, o Options, sc Scenario, samples []Sample, snaps []attemptSnap, psnaps []proxySnap, ivs []interval) {
	type span struct {
		name     string
		from, to time.Duration
	}
	d := o.Duration
	bounds := []span{{"steady", 0, d}}
	if len(ivs) > 0 {
		bounds = []span{{"before", 0, d / 4}, {"fault", d / 4, 3 * d / 4}, {"after", 3 * d / 4, d}}
	}
	for i, b := range bounds {
		p := Phase{Name: b.name, From: b.from, To: b.to, Summary: Summarize(between(samples, b.from, b.to))}
		end := totalAt(snaps, b.to)
		if i == len(bounds)-1 && len(snaps) > 0 {
			end = snaps[len(snaps)-1].total // requests of the last phase finish after it
		}
		p.Attempts = end - totalAt(snaps, b.from)
		if p.Requests > 0 {
			p.AttemptsPerRequest = p.Attempts / float64(p.Requests)
		}
		sr.Phases = append(sr.Phases, p)
	}
	sr.Windows = Windows(samples)
	sr.GatewayAttempts = len(snaps) > 0
	if len(ivs) == 0 {
		return
	}
	before, _ := sr.Phase("before")
	fault, _ := sr.Phase("fault")
	f := &FaultReport{At: ivs[0].down, Until: ivs[len(ivs)-1].up, Intervals: len(ivs), P99Limit: before.P99 * 12 / 10}
	var onAttempts float64
	for _, iv := range ivs {
		onAttempts += totalAt(snaps, iv.up) - totalAt(snaps, iv.down)
		ttr := TimeToRecover(samples, iv.down, iv.up)
		if ttr < 0 || f.TimeToRecover < 0 {
			f.TimeToRecover = -1
		} else {
			f.TimeToRecover = max(f.TimeToRecover, ttr)
		}
		last, n := lastAttempt(snaps, iv)
		f.FaultyAttempts += n
		if last < 0 || f.TimeToNoAttempts < 0 {
			f.TimeToNoAttempts = -1
		} else {
			f.TimeToNoAttempts = max(f.TimeToNoAttempts, last)
		}
	}
	if onAttempts > 0 {
		f.FaultyShare = f.FaultyAttempts / onAttempts
	}
	f.TimeToP99 = TimeToLatency(samples, f.At, fault.To, f.P99Limit)
	f.SettledP99 = -1
	if settle := f.At + 5*time.Second; settle < fault.To {
		f.SettledP99 = Summarize(between(samples, settle, fault.To)).P99
	}
	f.SuccessFrom2s = Summarize(between(samples, f.At+SettleTime, f.Until)).SuccessRate
	for _, x := range between(samples, fault.From, fault.To) {
		if !x.OK() || x.Latency > sr.TryTimeout+before.P99 {
			f.OverTryTimeout++
		}
	}
	f.Proxies = analyzeProxies(psnaps, samples, d, interval{f.At, f.Until})
	sr.Fault = f
	sr.Checks = checks(sc, sr, before, fault)
}

// totalAt returns the attempt total of the last snapshot at or before t.
func totalAt(snaps []attemptSnap, t time.Duration) float64 {
	var v float64
	for _, s := range snaps {
		if s.at > t {
			break
		}
		v = s.total
	}
	return v
}

// lastAttempt returns how long after iv.down the last attempt to a faulty
// instance was seen within iv (-1 if the last poll before iv.up still saw
// one: attempts had not stopped), and how many attempts were seen.
func lastAttempt(snaps []attemptSnap, iv interval) (time.Duration, float64) {
	var prev, first float64
	seen, rising := false, false
	last := time.Duration(0)
	for _, s := range snaps {
		if s.at < iv.down {
			prev = s.faulty
			continue
		}
		if s.at >= iv.up {
			break
		}
		if !seen {
			first, seen = prev, true
		}
		rising = s.faulty > prev
		if rising {
			last = s.at - iv.down
		}
		prev = s.faulty
	}
	if rising {
		return -1, prev - first
	}
	return last, prev - first
}

// checks evaluates the drill's targets for the scenarios that have them.
func checks(sc Scenario, sr *ScenarioReport, before, fault Phase) []Check {
	f, tryTimeout := sr.Fault, sr.TryTimeout
	var out []Check
	switch sc.Name {
	case Failover.Name:
		limit := before.P99*3/2 + tryTimeout
		out = append(out,
			Check{"success during failover", "≥ 99.99%", pct(fault.SuccessRate), fault.SuccessRate >= 0.9999},
			Check{"time to recover", "≤ 1s", dur(f.TimeToRecover), f.TimeToRecover >= 0 && f.TimeToRecover <= time.Second},
			Check{"p99 during failover", "≤ 1.5 × steady p99 + try timeout = " + ms(limit), ms(fault.P99), fault.P99 <= limit},
		)
	case Slow.Name:
		// "p99 returns to within 1.2× of steady within 5s": the p99 of the
		// fault phase from 5s after the injection on.
		out = append(out,
			Check{"p99 from 5s after the slowdown", "≤ 1.2 × steady p99 = " + ms(f.P99Limit), ms(f.SettledP99), f.SettledP99 >= 0 && f.SettledP99 <= f.P99Limit},
		)
	case Errors.Name:
		out = append(out,
			Check{"success with one instance answering 503", "≥ 99.9%", pct(fault.SuccessRate), fault.SuccessRate >= 0.999},
			Check{"upstream attempts per client request", "≤ 1.2", fmt.Sprintf("%.3f", fault.AttemptsPerRequest), fault.AttemptsPerRequest <= 1.2},
		)
	case Blackhole.Name:
		limit := tryTimeout + before.P99
		tt := "per-try timeout " + dur(tryTimeout)
		if sr.TryTimeoutFrom == TryTimeoutBound {
			tt = "--per-try-timeout " + dur(tryTimeout) + " (the gateway reports none)"
		}
		last, lastOK := notMeasured, false
		switch px := f.Proxies; {
		case px != nil && px.Counted == "requests":
			last = dur(px.LastAttempt) + fmt.Sprintf(" (%d requests after 2s)", px.LateAttempts)
			lastOK = px.LastAttempt <= SettleTime
		case px != nil:
			// A new connection may be an attempt or a health probe: an
			// upper bound, which cannot show that no attempt arrived.
			last = fmt.Sprintf("not measured: the fault proxies count connections, which health probes open too (last new connection %s, %d after 2s)", dur(px.LastConn), px.LateConns)
		}
		out = append(out,
			Check{"success from 2s after the blackhole", "≥ 99.9%", pct(f.SuccessFrom2s), f.SuccessFrom2s >= 0.999},
			Check{"last attempt to the silent cloud after the blackhole", "≤ 2s", last, lastOK},
			Check{"p99 during the blackhole", "≤ " + tt + " + steady p99 " + ms(before.P99) + " = " + ms(limit),
				fmt.Sprintf("%s (%d of %d requests above the bound, %d allowed)", ms(fault.P99), f.OverTryTimeout, fault.Requests, fault.Requests/100), fault.P99 <= limit},
		)
	case Brownout.Name:
		left, leftOK := notMeasured, false
		if px := f.Proxies; px != nil && (px.TrafficLeft >= 0 || px.ShareFault >= 0) {
			left = dur(px.TrafficLeft) + fmt.Sprintf(" (share %s before, %s from 2s in)", share(px.ShareBefore), share(px.ShareLate))
			leftOK = px.TrafficLeft >= 0 && px.TrafficLeft <= LeftWithin
		} else if px != nil {
			left = "not measured: the fault proxies count connections, not requests"
		}
		out = append(out,
			Check{"time until traffic left the slow cloud (share < 10%)", "≤ 5s", left, leftOK},
		)
	}
	return out
}

// notMeasured is a check's result when the run could not measure it.
const notMeasured = "not measured"

// share formats a share of traffic; negative means not known.
func share(s float64) string {
	if s < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*s)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// WriteMarkdown writes the full report: the summary, then each scenario's
// phases, fault measurements, checks and per-second windows.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# duohuo drill report\n\n")
	r.summary(&b)
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "\n## (%s) %s: %s\n\n", s.Row, s.Name, s.Title)
		if len(s.Faulty) > 0 {
			fmt.Fprintf(&b, "Faulty instances: %s. Per-try timeout: %s.\n\n", strings.Join(s.Faulty, ", "), tryTimeout(s))
		}
		b.WriteString("| phase | from–to | requests | success | failures | avg | p50 | p99 | p99.9 | max | attempts/request | served by cloud (p99) |\n")
		b.WriteString("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|\n")
		for _, p := range s.Phases {
			fmt.Fprintf(&b, "| %s | %s–%s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				p.Name, dur(p.From), dur(p.To), p.Requests, pct(p.SuccessRate), failures(p.Failures), ms(p.Avg), ms(p.P50), ms(p.P99), ms(p.P999), ms(p.Max),
				perRequest(s, p), clouds(p.ByCloud, p.CloudP99))
		}
		if f := s.Fault; f != nil {
			gw := "the gateway's attempt counters were not read"
			if s.GatewayAttempts {
				gw = fmt.Sprintf("no attempt reaches the faulty instances after %s (%.0f attempts reached them, %.2f%% of those sent during the fault, by the gateway's counters)",
					dur(f.TimeToNoAttempts), f.FaultyAttempts, 100*f.FaultyShare)
			}
			fmt.Fprintf(&b, "\nFault from %s to %s (%d interval(s)): time to recover %s; %s; p99 back within %s after %s; p99 from 5s after the fault %s.\n",
				dur(f.At), dur(f.Until), f.Intervals, dur(f.TimeToRecover), gw, ms(f.P99Limit), dur(f.TimeToP99), ms(f.SettledP99))
			if px := f.Proxies; px != nil {
				writeProxies(&b, s, px)
			}
		}
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "\nError: %s\n", e)
		}
		b.WriteString("\n<details><summary>per-second windows</summary>\n\n| second | requests | success | p99 |\n|---:|---:|---:|---:|\n")
		for _, w := range s.Windows {
			fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", dur(w.At), w.Requests, pct(w.SuccessRate), ms(w.P99))
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSummary writes the summary: the machine, one line per scenario
// phase, and the checks.
func (r *Report) WriteSummary(w io.Writer) error {
	var b strings.Builder
	r.summary(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) summary(b *strings.Builder) {
	h := r.Host
	fmt.Fprintf(b, "%s, %d rps for %s per scenario, service time %s, cross-cloud RTT %s.\n",
		r.Started.Format(time.RFC3339), r.Rate, dur(r.Duration), dur(r.ServiceTime), dur(r.CrossCloudRTT))
	fmt.Fprintf(b, "Host: %s/%s, %d CPUs (%s), %s, load average %s before, %s after.\n\n",
		h.OS, h.Arch, h.CPUs, h.CPU, h.GoVersion, orNA(h.LoadAvgBefore), orNA(h.LoadAvgAfter))
	b.WriteString("| row | scenario | phase | requests | success | failures | avg | p50 | p99 | p99.9 | attempts/request | time to recover | no attempts to faulty after |\n")
	b.WriteString("|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		for _, p := range s.Phases {
			ttr, tna := "", ""
			if s.Fault != nil && p.Name == "fault" {
				ttr, tna = dur(s.Fault.TimeToRecover), dur(s.Fault.TimeToNoAttempts)
				if !s.GatewayAttempts {
					tna = "n/a"
				}
			}
			fmt.Fprintf(b, "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				s.Row, s.Name, p.Name, p.Requests, pct(p.SuccessRate), failures(p.Failures), ms(p.Avg), ms(p.P50), ms(p.P99), ms(p.P999), perRequest(s, p), ttr, tna)
		}
	}
	var silent []string
	for _, s := range r.Scenarios {
		f := s.Fault
		if f == nil || f.Proxies == nil {
			continue
		}
		px := f.Proxies
		fault, _ := s.Phase("fault")
		before, _ := s.Phase("before")
		last, late := "n/a", "n/a"
		if px.Counted == "requests" {
			last, late = dur(px.LastAttempt), fmt.Sprint(px.LateAttempts)
		}
		silent = append(silent, fmt.Sprintf("| %s | %s | %s | %s | %d | %s | %s / %s / %s | %s | %s | %s | %s |",
			s.Name, last, late, dur(px.LastConn), px.LateConns, leftText(px),
			share(px.ShareBefore), share(px.ShareFault), share(px.ShareLate), pct(f.SuccessFrom2s), ms(fault.P99), ms(before.P99), tryTimeout(s)))
	}
	if len(silent) > 0 {
		b.WriteString("\nAt the fault proxies (times from the fault's start; an attempt is a request arriving from the gateway, n/a where the proxies count only connections):\n\n")
		b.WriteString("| scenario | last attempt to the faulty set | attempts from 2s | last new connection | connections from 2s | time until traffic left (share < 10%) | faulty share before / fault / from 2s | success from 2s | p99 fault | steady p99 | per-try timeout |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|\n")
		b.WriteString(strings.Join(silent, "\n") + "\n")
	}
	var cs []string
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			mark := "PASS"
			if !c.Pass {
				mark = "FAIL"
			}
			cs = append(cs, fmt.Sprintf("| %s | %s | %s | %s | %s |", s.Name, c.What, c.Target, c.Got, mark))
		}
	}
	if len(cs) > 0 {
		b.WriteString("\n| scenario | target | want | got | |\n|---|---|---|---|---|\n")
		b.WriteString(strings.Join(cs, "\n") + "\n")
	}
}

// Passed reports whether every check of every scenario passed.
func (r *Report) Passed() bool {
	for _, s := range r.Scenarios {
		for _, c := range s.Checks {
			if !c.Pass {
				return false
			}
		}
	}
	return true
}

// writeProxies writes what the fault proxies saw, with the 100ms buckets
// from a second before the fault to three seconds into it.
func writeProxies(b *strings.Builder, s ScenarioReport, px *ProxyReport) {
	f := s.Fault
	fault, _ := s.Phase("fault")
	before, _ := s.Phase("before")
	if px.Counted == "requests" {
		fmt.Fprintf(b, "\nAt the fault proxies: the last attempt (request) reached the faulty set %s after the fault (%d from 2s on), the last new connection %s (%d from 2s on)",
			dur(px.LastAttempt), px.LateAttempts, dur(px.LastConn), px.LateConns)
	} else {
		fmt.Fprintf(b, "\nAt the fault proxies, which count connections only (attempts and health probes alike): the last new connection reached the faulty set %s after the fault (%d from 2s on)",
			dur(px.LastConn), px.LateConns)
	}
	fmt.Fprintf(b, "; traffic left it (share < 10%%) after %s; its share was %s before the fault, %s during it, %s from 2s on. Success from 2s after the fault %s; p99 during the fault %s, steady p99 %s, per-try timeout %s.\n",
		leftText(px), share(px.ShareBefore), share(px.ShareFault), share(px.ShareLate), pct(f.SuccessFrom2s), ms(fault.P99), ms(before.P99), tryTimeout(s))
	b.WriteString("\n| t − fault | sent | ok | max latency | faulty: new conns | faulty: requests | faulty: bytes | all proxies: requests | faulty share |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, k := range px.Buckets {
		rel := k.At - f.At
		if rel < -time.Second || rel >= 3*time.Second {
			continue
		}
		sh := "n/a"
		if k.FaultyRequests >= 0 && k.AllRequests > 0 {
			sh = share(float64(k.FaultyRequests) / float64(k.AllRequests))
		}
		fmt.Fprintf(b, "| %+.1fs | %d | %d | %s | %s | %s | %s | %s | %s |\n",
			rel.Seconds(), k.Sent, k.OK, ms(k.Max), count(k.FaultyConns), count(k.FaultyRequests), count(k.FaultyBytes), count(k.AllRequests), sh)
	}
}

// perRequest formats a phase's attempts per request, which only the demo
// gateway's counters give.
func perRequest(s ScenarioReport, p Phase) string {
	if !s.GatewayAttempts {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", p.AttemptsPerRequest)
}

// leftText formats the time until traffic left, which is unknown where the
// share is.
func leftText(px *ProxyReport) string {
	if px.TrafficLeft < 0 && px.ShareFault < 0 {
		return "n/a"
	}
	return dur(px.TrafficLeft)
}

func count(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprint(n)
}

// tryTimeout formats a scenario's per-try timeout and where it comes from.
func tryTimeout(s ScenarioReport) string {
	switch {
	case s.TryTimeoutFrom == TryTimeoutBound:
		return dur(s.TryTimeout) + " (--per-try-timeout: the gateway reports none)"
	case s.TryTimeoutMax > s.TryTimeout:
		return dur(s.TryTimeout) + " (up to " + dur(s.TryTimeoutMax) + " during the fault)"
	}
	return dur(s.TryTimeout)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func clouds(m map[string]int, p99 map[string]time.Duration) string {
	total := 0
	for _, n := range m {
		total += n
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.0f%% (%s)", k, 100*float64(m[k])/float64(total), ms(p99[k])))
	}
	return strings.Join(parts, ", ")
}

func failures(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// ms formats a latency in milliseconds with two decimals; negative means
// not measured.
func ms(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// dur formats a duration of the timeline; negative means never.
func dur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// pct formats a success rate.
func pct(r float64) string { return fmt.Sprintf("%.3f%%", 100*r) }
