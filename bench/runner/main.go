// Command runner drives the gateway benchmark that bench/run.sh starts: it
// runs the backend once, then for every round, body size and connection
// count starts each proxy in turn (A B C … A B C …), loads it with wrk over
// loopback, records RPS, latency percentiles, the proxy's CPU time and peak
// RSS, stops it, and finally writes the raw results and the Markdown table
// (medians over rounds, ratios from the same rounds) into docs/benchmarks.md.
//
// Usage (run.sh passes these):
//
//	runner -bin DIR -out DIR -doc docs/benchmarks.md [-rounds 3] [-duration 8s] [-quick] [-profile]
//
// With -h2 (bench/grpc.sh) it runs the gRPC and h2c benchmark instead, with
// h2load: see h2.go.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "directory holding the built duohuo, backend and goproxy binaries")
	flag.StringVar(&o.out, "out", "bench/results", "directory for raw results (a subdirectory per run)")
	flag.StringVar(&o.doc, "doc", "docs/benchmarks.md", "Markdown file whose gateway section is rewritten (full runs only: no -quick or -only, 3 rounds or more); empty: print the table only")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; the table shows medians over them")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "wrk duration of each measured run (at most 10s)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "wrk warm-up before each measured run, not recorded")
	flag.StringVar(&o.conns, "conns", "50,200", "wrk connection counts")
	flag.StringVar(&o.sizes, "sizes", "64,4096", "response body sizes in bytes (the backend serves 64 and 4096)")
	flag.StringVar(&o.only, "only", "", "comma-separated proxies to run (direct,nginx,haproxy,goproxy,duohuo); empty: all")
	flag.StringVar(&o.before, "before", "", "another duohuo binary to run as \"duohuo-before\" with the same config, swapping places with duohuo in even rounds; the report adds duohuo ÷ duohuo-before per cell (the doc is not touched)")
	flag.BoolVar(&o.quick, "quick", false, "smoke run: 1 round, 2s runs, 1s warm-up (~1.5 min); the doc is not touched")
	flag.BoolVar(&o.profile, "profile", false, "also take CPU profiles of duohuo during its 64 B runs (admin /debug/pprof/profile)")
	flag.BoolVar(&o.h2, "h2", false, "run the gRPC and h2c benchmark (bench/grpc.sh) with h2load instead: direct, nginx and duohuo; -bin must also hold grpcbackend")
	flag.StringVar(&o.shapes, "shapes", "50x1,10x20", "with -h2: h2load loads as CONNSxSTREAMS (connections × concurrent streams on each)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(1)
	}
}

type options struct {
	bin, out, doc  string
	rounds         int
	duration       time.Duration
	warmup         time.Duration
	conns, sizes   string
	only, before   string
	quick, profile bool
	h2             bool
	shapes         string
}

func run(o options) error {
	if o.bin == "" {
		return fmt.Errorf("-bin is required (run bench/run.sh)")
	}
	if o.quick {
		o.rounds, o.duration, o.warmup = 1, 2*time.Second, time.Second
	}
	if o.quick || o.only != "" || o.before != "" || o.rounds < 3 {
		o.doc = "" // the doc holds only full runs: every proxy, at least 3 rounds
	}
	if o.duration > 10*time.Second || o.duration < time.Second {
		return fmt.Errorf("-duration %v: want 1s to 10s", o.duration)
	}
	if o.rounds < 1 || o.rounds > 20 {
		return fmt.Errorf("-rounds %d: want 1 to 20", o.rounds)
	}
	conns, err := intList(o.conns)
	if err != nil {
		return fmt.Errorf("-conns: %w", err)
	}
	sizes, err := intList(o.sizes)
	if err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	for _, s := range sizes {
		if s != 64 && s != 4096 {
			return fmt.Errorf("-sizes: %d: the backend serves 64 and 4096", s)
		}
	}
	if o.h2 {
		return runH2(o, sizes)
	}
	dir := filepath.Join(o.out, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m := machineInfo(o.bin)
	if o.before != "" {
		m.Versions["duohuo-before"] = duohuoVersion(o.before)
	}
	fmt.Printf("machine: %s, %d CPUs, load %s\n", m.CPU, m.NProc, m.LoadStart)

	b := &bench{opts: o, dir: dir, machine: m}
	if err := b.startBackend(); err != nil {
		return err
	}
	defer b.stopBackend()
	b.proxies, err = b.allProxies(o.only)
	if err != nil {
		return err
	}
	total := o.rounds * len(sizes) * len(conns) * len(b.proxies)
	per := o.duration + o.warmup + time.Second
	fmt.Printf("%d runs, about %v; raw results in %s\n", total, (time.Duration(total) * per).Round(time.Second), dir)
	n := 0
	for round := 1; round <= o.rounds; round++ {
		for _, size := range sizes {
			for _, c := range conns {
				for _, p := range runOrder(b.proxies, round) {
					n++
					r, err := b.measure(p, round, size, c)
					if err != nil {
						return fmt.Errorf("round %d, %s, %d B, c=%d: %w", round, p.name, size, c, err)
					}
					fmt.Printf("[%d/%d] round %d %-8s %4d B c=%-3d %8.0f rps  p50 %6.2f ms  p99 %6.2f ms  cpu %5.1f µs/req  rss %5.1f MiB  load %s%s\n",
						n, total, round, p.name, size, c, r.RPS, r.P50ms, r.P99ms, r.CPUPerReqUs, r.RSSMiB, r.Load, r.errNote())
					b.results = append(b.results, r)
				}
			}
		}
	}
	b.machine.LoadEnd = loadAvg()
	if err := b.writeRaw(); err != nil {
		return err
	}
	table := b.table(sizes, conns)
	fmt.Println()
	fmt.Println(table)
	if o.doc != "" {
		if err := writeSection(o.doc, table); err != nil {
			return err
		}
		fmt.Printf("wrote the gateway table into %s\n", o.doc)
	}
	return nil
}

// runOrder is the order of the proxies in a round. With -before, the two
// duohuo builds swap places in even rounds (… after before, … before after),
// so that neither always runs right after the other: a box that drifts
// during a round would otherwise favour one of them in every round.
func runOrder(ps []*proxy, round int) []*proxy {
	if round%2 == 1 {
		return ps
	}
	out := slices.Clone(ps)
	i := slices.IndexFunc(out, func(p *proxy) bool { return p.name == "duohuo" })
	j := slices.IndexFunc(out, func(p *proxy) bool { return p.name == "duohuo-before" })
	if i >= 0 && j >= 0 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(f), "%d", &n); err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
