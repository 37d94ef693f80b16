package main

import (
	"fmt"
	"strings"
)

// Markers around the generated gRPC and h2c table in docs/benchmarks.md,
// and the heading of the section that holds them.
const (
	h2Begin   = "<!-- bench/grpc.sh table: begin (generated, do not edit) -->"
	h2End     = "<!-- bench/grpc.sh table: end -->"
	h2Heading = "gRPC and h2c (HTTP/2 from clients)"
)

var h2Labels = map[string]map[string]string{
	"grpc": {
		"direct": "grpc-go backend direct (no proxy)",
		"nginx":  "nginx, 1 worker, `grpc_pass grpc://`",
		"duohuo": "**duohuo serve**, upstream `h2c`",
	},
	"h2c": {
		"direct": "backend direct over h2c (no proxy, no HTTP/1.1 leg)",
		"nginx":  "nginx, 1 worker, `proxy_pass` HTTP/1.1",
		"duohuo": "**duohuo serve**, upstream `http1`",
	},
}

// h2ratio is the median over rounds of x's RPS divided by ref's in the same
// round and cell.
func h2ratio(results []h2result, x, ref, cell string, size int, sh h2shape) (float64, bool) {
	by := map[int]map[string]float64{}
	for _, r := range results {
		if r.Cell != cell || r.Size != size || r.Conns != sh.conns || r.Streams != sh.streams || r.Err != "" {
			continue
		}
		if by[r.Round] == nil {
			by[r.Round] = map[string]float64{}
		}
		by[r.Round][r.Proxy] = r.RPS
	}
	var rs []float64
	for _, m := range by {
		a, okA := m[x]
		c, okC := m[ref]
		if okA && okC && c > 0 {
			rs = append(rs, a/c)
		}
	}
	if len(rs) == 0 {
		return 0, false
	}
	return median(rs), true
}

// h2table renders the Markdown block that goes between the markers.
func (b *h2bench) h2table(sizes []int, shapes []h2shape) string {
	var sb strings.Builder
	m, o := b.machine, b.opts
	fmt.Fprintf(&sb, "Measured %s on %d × %s (%s, %s). Load average before / after: %s / %s.\n",
		m.Date, m.NProc, m.CPU, m.OS, m.Kernel, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&sb, "Versions: %s; %s; %s; %s.\n\n", m.Versions["duohuo"], m.Versions["nginx"], m.Versions["h2load"], m.Versions["go"])
	rounds := fmt.Sprintf("%d interleaved rounds", o.rounds)
	if o.rounds == 1 {
		rounds = "1 round"
	}
	fmt.Fprintf(&sb, "Command: `bench/grpc.sh` (%s; each run: the contestant started afresh, one request checked whole, "+
		"`h2load -t1 -cC -mM -D%v` as warm-up, then `h2load -t1 -cC -mM -nN --log-file` with N = the warm-up rate × %v). ",
		rounds, o.warmup, o.duration)
	sb.WriteString("Load is C connections × M concurrent streams on each, all h2c (HTTP/2 in clear text, prior knowledge) from h2load on 127.0.0.1. ")
	sb.WriteString("The backend is `bench/grpcbackend` on one core. ")
	sb.WriteString("**grpc**: unary calls of `/duohuo.bench.Backend/Reply` (a 7-byte request, the answer a `BytesValue` of the body size, grpc-status 0), forwarded over HTTP/2 in clear text to the grpc-go server. ")
	sb.WriteString("**h2c**: `GET /64` or `/4096`, forwarded over HTTP/1.1 with keep-alive (nginx's `proxy_pass` speaks HTTP/1.x only to upstreams; duohuo is set to `http1` to match). ")
	sb.WriteString("Medians over rounds; ×nginx is the median of per-round ratios. p50 and p99 are over every request of the run (h2load's log). ")
	sb.WriteString("CPU µs/req is the proxy's own user+system CPU per request (the backend's for *direct*); RSS its peak resident set. ")
	sb.WriteString("Errors are h2load's failed, errored and timed-out requests, non-2xx answers, and answers whose body was short: h2load does not read grpc-status, and a failed call carries no message.\n\n")
	sb.WriteString("| cell | body | load | proxy | RPS | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | ×nginx | errors |\n")
	sb.WriteString("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, cell := range h2cells {
		for _, size := range sizes {
			for _, sh := range shapes {
				for _, p := range b.proxies[cell] {
					var rps, p50, p99, cpu []float64
					var rss float64
					var errs int64
					var why string
					for _, r := range b.results {
						if r.Cell != cell || r.Proxy != p.name || r.Size != size || r.Conns != sh.conns || r.Streams != sh.streams {
							continue
						}
						if r.Err != "" {
							why = r.Err
							continue
						}
						rps = append(rps, r.RPS)
						p50 = append(p50, r.P50ms)
						p99 = append(p99, r.P99ms)
						cpu = append(cpu, r.CPUPerReqUs)
						rss = max(rss, r.RSSMiB)
						errs += r.errors()
					}
					label := h2Labels[cell][p.name]
					if len(rps) == 0 {
						fmt.Fprintf(&sb, "| %s | %s | %v | %s | not measured: %s | | | | | | |\n", cell, sizeLabel(size), sh, label, mdEscape(why))
						continue
					}
					xn := "–"
					if v, ok := h2ratio(b.results, p.name, "nginx", cell, size, sh); ok {
						xn = fmt.Sprintf("%.2f", v)
					}
					fmt.Fprintf(&sb, "| %s | %s | %v | %s | %s | %.2f | %.2f | %.0f | %.1f | %s | %d |\n",
						cell, sizeLabel(size), sh, label, thousands(median(rps)), median(p50), median(p99), median(cpu), rss, xn, errs)
				}
			}
		}
	}
	return sb.String()
}

// mdEscape keeps a message inside one table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
