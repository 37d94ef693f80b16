package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/drill"
)

func init() { subcommands = append(subcommands, newDrillCmd) }

// errChecksFailed marks a drill that ran but missed a target.
var errChecksFailed = errors.New("drill: some targets were missed (see the checks above)")

func newDrillCmd() *cobra.Command {
	var (
		o           drill.Options
		scenarios   string
		reportDir   string
		strict      bool
		open        bool
		allowRemote bool
	)
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Break the demo topology under open-loop load and report what clients saw",
		Long: `Run failure scenarios against the demo topology (three clouds on loopback, a
fresh one per scenario) under an open-loop constant-rate load: requests are
sent on schedule, not when the previous one returns, and latency is measured
from the scheduled time, so a stall cannot hide latency (coordinated omission).

Scenarios (the drill table of docs/drills.md: a-c are the product's load-test
targets, d-h its failure drills; --scenario takes names or letters,
comma-separated, or all):
  a steady     steady traffic within the local cloud
  b failover   every instance of the local cloud killed, then restarted
  c mixed      three-cloud mixed load balancing (the gateway has no site)
  d slow       one local instance ten times slower
  e errors     one local instance answering 503
  f flap       the local cloud flapping: 2s down, 2s up
  g blackhole  the local cloud silent: its fault proxies drop every byte both
               ways (connections accepted, nothing arrives, sockets open)
  h brownout   the local cloud browning out: its fault proxies add 500ms
               each way

Fault scenarios inject the fault at a quarter of --duration and repair it at
three quarters. Each scenario reports, per phase (before, fault, after):
requests, success rate, avg/p50/p99/p99.9 latency and upstream attempts per
request; and for faults the time to recover (to the first one-second window at
99.9% success) and the time until no attempt reaches the faulty instances.
In blackhole and brownout every demo instance sits behind a TCP fault proxy
(the engine of duohuo chaos proxy), the gateway runs with the product's
defaults, and the proxies count what arrives from the gateway per 100ms: the
report gives the time of the last attempt to the faulty cloud after the
fault and the time until traffic left it (its share below 10%).
The report is written as report.json, report.md and report.html (one
self-contained page with a timeline per scenario: success rate, p50 and
p99, each cloud's share, the fault shaded and the recovery marked) under
--report; --open prints the page's file:// URL last, for a browser.

--target URL sends the same open-loop load to your own gateway instead. With
no --fault-proxy no fault is injected (break things yourself and read the
windows). With --fault-proxy ADMIN_URL (repeatable), naming the admin API of
duohuo chaos proxy processes you placed in front of the instances of one
cloud, blackhole and brownout run against your gateway: the drill sets their
toxic on those proxies during the fault phase, removes it at the repair and
whenever the drill stops (Ctrl-C, error), and counts their new connections.
--strict exits 1 when a scenario misses its target (see docs/drills.md).`,
		Example: `  duohuo drill --scenario failover --duration 30s
  duohuo drill --scenario all --duration 60s --rate 200 --report ./drill-report
  duohuo drill --scenario blackhole,brownout --strict
  duohuo drill --target http://127.0.0.1:8080/hello --duration 60s --rate 500
  duohuo drill --target http://127.0.0.1:8080/hello --scenario blackhole \
      --fault-proxy http://127.0.0.1:8474 --fault-proxy http://127.0.0.1:8475`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := drill.ParseScenarios(scenarios)
			if err != nil {
				return usagef("--scenario: %v", err)
			}
			o.Scenarios = sc
			if o.Rate <= 0 {
				return usagef("--rate %d: must be positive", o.Rate)
			}
			if o.Duration < 4*time.Second || o.Duration > time.Hour {
				return usagef("--duration %v: must be between 4s and 1h", o.Duration)
			}
			if o.PerTryTimeout <= 0 {
				return usagef("--per-try-timeout %v: must be positive", o.PerTryTimeout)
			}
			if len(o.FaultProxies) > 0 && o.Target == "" {
				return usagef("--fault-proxy needs --target: the demo topology has fault proxies of its own")
			}
			// A drill sends load and breaks things: only at this machine
			// unless the operator says otherwise.
			if !allowRemote {
				for flag, list := range map[string][]string{"--target": {o.Target}, "--fault-proxy": o.FaultProxies} {
					for _, u := range list {
						if u != "" && !loopbackURL(u) {
							return usagef("%s %s: not a loopback address; a drill sends load and injects faults, so a remote target needs --allow-remote", flag, u)
						}
					}
				}
			}
			// The flags say 0 for none; Options says it with a negative value.
			for _, d := range []*time.Duration{&o.ServiceTime, &o.CrossCloudRTT} {
				if *d == 0 {
					*d = -1
				}
			}
			if err := o.Check(); err != nil {
				return usageError{err}
			}
			if reportDir == "" {
				reportDir = "drill-report-" + time.Now().UTC().Format("20060102-150405")
			}
			if err := os.MkdirAll(reportDir, 0o755); err != nil {
				return fmt.Errorf("report directory: %w", err)
			}
			out := cmd.OutOrStdout()
			o.Progress = out
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			switch {
			case o.Target != "" && len(o.FaultProxies) > 0:
				fmt.Fprintf(out, "duohuo drill: load on %s, %d rps for %v per scenario, faults through %d fault proxies\n", o.Target, o.Rate, o.Duration, len(o.FaultProxies))
			case o.Target != "":
				fmt.Fprintf(out, "duohuo drill: load on %s, %d rps for %v\n", o.Target, o.Rate, o.Duration)
			default:
				fmt.Fprintf(out, "duohuo drill: %d scenario(s), %d rps, %v each\n", len(sc), o.Rate, o.Duration)
			}
			rep, runErr := drill.Run(ctx, o)
			if errors.Is(runErr, drill.ErrBadOptions) {
				return usageError{runErr}
			}
			if rep == nil {
				return runErr
			}
			if err := writeReport(reportDir, rep); err != nil {
				return err
			}
			fmt.Fprintln(out)
			if err := rep.WriteSummary(out); err != nil {
				return err
			}
			fmt.Fprintf(out, "\nReport: %s, %s, %s\n", filepath.Join(reportDir, "report.html"), filepath.Join(reportDir, "report.md"), filepath.Join(reportDir, "report.json"))
			if open {
				if abs, err := filepath.Abs(filepath.Join(reportDir, "report.html")); err == nil {
					fmt.Fprintf(out, "Open: file://%s\n", abs)
				}
			}
			if runErr != nil {
				return runErr
			}
			if strict && !rep.Passed() {
				return errChecksFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenarios, "scenario", "all", "scenarios to run: all, or names/letters separated by commas (steady,failover,mixed,slow,errors,flap,blackhole,brownout or a-h)")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "measured length of each scenario (4s to 1h)")
	f.IntVar(&o.Rate, "rate", 200, "requests per second, sent on schedule")
	f.StringVar(&reportDir, "report", "", "directory for report.json, report.md and report.html (default ./drill-report-<UTC time>)")
	f.DurationVar(&o.ServiceTime, "service-time", 5*time.Millisecond, "time each demo instance takes to answer (0 for none)")
	f.DurationVar(&o.CrossCloudRTT, "cross-cloud-rtt", 20*time.Millisecond, "latency added to instances outside the gateway's cloud (0 for none)")
	f.StringVar(&o.Target, "target", "", "send the load to this URL (your own gateway) instead of the demo; no fault unless --fault-proxy is given")
	f.StringArrayVar(&o.FaultProxies, "fault-proxy", nil, "with --target: admin URL of a duohuo chaos proxy in front of an instance of one cloud, which blackhole and brownout break (repeatable)")
	f.DurationVar(&o.PerTryTimeout, "per-try-timeout", time.Second, "per-try timeout the blackhole's p99 target allows for when the gateway reports none")
	f.BoolVar(&strict, "strict", false, "exit 1 when a scenario misses its target")
	f.BoolVar(&open, "open", false, "print the file:// URL of report.html to open in a browser")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow a --target or --fault-proxy that is not on loopback (a drill loads and breaks what it is pointed at)")
	return cmd
}

func writeReport(dir string, rep *drill.Report) error {
	for _, w := range []struct {
		name  string
		write func(*os.File) error
	}{
		{"report.json", func(f *os.File) error { return rep.WriteJSON(f) }},
		{"report.md", func(f *os.File) error { return rep.WriteMarkdown(f) }},
		{"report.html", func(f *os.File) error { return rep.WriteHTML(f) }},
	} {
		f, err := os.Create(filepath.Join(dir, w.name))
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		err = w.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write report %s: %w", w.name, err)
		}
	}
	return nil
}

// loopbackURL reports whether u names a loopback host: localhost, 127/8
// or ::1. What is not an http(s) URL with a host passes: the drill's own
// checks refuse it with the reason.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return true
	}
	h := p.Hostname()
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}
