package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Markers around the generated part of the gateway section of
// docs/benchmarks.md; everything outside them is left as it is.
const (
	beginMarker = "<!-- bench/run.sh gateway table: begin (generated, do not edit) -->"
	endMarker   = "<!-- bench/run.sh gateway table: end -->"
)

// docIntro starts docs/benchmarks.md when it does not exist yet.
const docIntro = `# Benchmarks

Figures measured on our development machine, each with the command that
produced it, the machine, the date and a baseline from the same run.

## Gateway (HTTP reverse proxy)

`

var proxyLabels = map[string]string{
	"direct":  "backend direct (no proxy)",
	"nginx":   "nginx, 1 worker",
	"haproxy": "HAProxy, nbthread 1",
	"goproxy": "Go `httputil.ReverseProxy`",
	"duohuo":  "**duohuo serve**",

	"duohuo-before": "duohuo serve (-before binary)",
}

func (b *bench) writeRaw() error {
	var sb strings.Builder
	for _, r := range b.results {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		sb.Write(line)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(b.dir, "results.jsonl"), []byte(sb.String()), 0o644); err != nil {
		return err
	}
	m, err := json.MarshalIndent(b.machine, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dir, "machine.json"), m, 0o644)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median over rounds of x's RPS divided by ref's RPS in the
// same round and cell: runs close in time share the box's noise.
func ratio(results []result, x, ref string, size, conns int) (float64, bool) {
	return ratioOf(results, x, ref, size, conns, func(r result) float64 { return r.RPS })
}

// cpuRatio is ratio for CPU µs per request.
func cpuRatio(results []result, x, ref string, size, conns int) (float64, bool) {
	return ratioOf(results, x, ref, size, conns, func(r result) float64 { return r.CPUPerReqUs })
}

func ratioOf(results []result, x, ref string, size, conns int, field func(result) float64) (float64, bool) {
	by := map[int]map[string]float64{}
	for _, r := range results {
		if r.Size != size || r.Conns != conns {
			continue
		}
		if by[r.Round] == nil {
			by[r.Round] = map[string]float64{}
		}
		by[r.Round][r.Proxy] = field(r)
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

// beforeTable compares duohuo with duohuo-before (-before) cell by cell:
// medians of the per-round ratios, and each round's CPU ratio.
func (b *bench) beforeTable(sizes, conns []int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "duohuo = %s; duohuo-before = %s. Ratios are medians of per-round ratios (duohuo ÷ duohuo-before in the same round).\n\n",
		b.machine.Versions["duohuo"], b.machine.Versions["duohuo-before"])
	sb.WriteString("| body | conns | CPU µs/req duohuo | CPU µs/req duohuo-before | CPU µs/req ratio | RPS ratio | CPU ratio per round |\n")
	sb.WriteString("|---|---|---:|---:|---:|---:|---|\n")
	for _, size := range sizes {
		for _, c := range conns {
			rr, ok1 := ratio(b.results, "duohuo", "duohuo-before", size, c)
			cr, ok2 := cpuRatio(b.results, "duohuo", "duohuo-before", size, c)
			if !ok1 || !ok2 {
				continue
			}
			var rounds []string
			var ca, cb []float64
			for round := 1; round <= b.opts.rounds; round++ {
				var a, bf float64
				for _, r := range b.results {
					if r.Round == round && r.Size == size && r.Conns == c {
						switch r.Proxy {
						case "duohuo":
							a = r.CPUPerReqUs
							ca = append(ca, a)
						case "duohuo-before":
							bf = r.CPUPerReqUs
							cb = append(cb, bf)
						}
					}
				}
				if bf > 0 {
					rounds = append(rounds, fmt.Sprintf("%.3f", a/bf))
				}
			}
			fmt.Fprintf(&sb, "| %s | %d | %.1f | %.1f | %.3f | %.3f | %s |\n",
				sizeLabel(size), c, median(ca), median(cb), cr, rr, strings.Join(rounds, ", "))
		}
	}
	return sb.String()
}

// table renders the Markdown block that goes between the markers.
func (b *bench) table(sizes, conns []int) string {
	var sb strings.Builder
	m := b.machine
	o := b.opts
	fmt.Fprintf(&sb, "Measured %s on %d × %s (%s, %s). Load average before / after: %s / %s.\n",
		m.Date, m.NProc, m.CPU, m.OS, m.Kernel, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&sb, "Versions: %s; %s; %s; %s; %s.\n\n", m.Versions["duohuo"], m.Versions["nginx"], m.Versions["haproxy"], m.Versions["wrk"], m.Versions["go"])
	fmt.Fprintf(&sb, "Command: `bench/run.sh` (%d interleaved rounds, `wrk -t1 -cN -d%v --latency` after a %v warm-up, every proxy restarted for each run). ",
		o.rounds, o.duration, o.warmup)
	sb.WriteString("Medians over rounds; ×nginx and ×Go are medians of per-round ratios. ")
	sb.WriteString("CPU µs/req is the proxy's own user+system CPU time per request (the backend's for *direct*); RSS is the proxy's peak resident set (VmHWM, all its processes).\n\n")
	sb.WriteString("| body | conns | proxy | RPS | p50 ms | p99 ms | CPU µs/req | peak RSS MiB | ×nginx | ×Go ReverseProxy | errors |\n")
	sb.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, size := range sizes {
		for _, c := range conns {
			for _, p := range b.proxies {
				var rps, p50, p99, cpu []float64
				var rss float64
				var errs int64
				for _, r := range b.results {
					if r.Proxy != p.name || r.Size != size || r.Conns != c {
						continue
					}
					rps = append(rps, r.RPS)
					p50 = append(p50, r.P50ms)
					p99 = append(p99, r.P99ms)
					cpu = append(cpu, r.CPUPerReqUs)
					rss = max(rss, r.RSSMiB)
					errs += r.Non2xx + r.SocketErrs
				}
				if len(rps) == 0 {
					continue
				}
				xn, xg := "–", "–"
				if v, ok := ratio(b.results, p.name, "nginx", size, c); ok {
					xn = fmt.Sprintf("%.2f", v)
				}
				if v, ok := ratio(b.results, p.name, "goproxy", size, c); ok {
					xg = fmt.Sprintf("%.2f", v)
				}
				fmt.Fprintf(&sb, "| %s | %d | %s | %s | %.2f | %.2f | %.0f | %.1f | %s | %s | %d |\n",
					sizeLabel(size), c, proxyLabels[p.name], thousands(median(rps)), median(p50), median(p99), median(cpu), rss, xn, xg, errs)
			}
		}
	}
	if b.opts.before != "" {
		sb.WriteString("\n")
		sb.WriteString(b.beforeTable(sizes, conns))
	}
	return sb.String()
}

func sizeLabel(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

// thousands formats v rounded to an integer with commas: 37,324.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// errNoMarkers reports a docs file with one marker and not the other.
var errNoMarkers = errors.New("table markers unbalanced")

// replaceSection returns doc with the text between the markers replaced by
// table. A doc without markers gets the gateway section appended (an empty
// doc gets the intro first); other sections are kept as they are.
func replaceSection(doc, table string) (string, error) {
	if strings.TrimSpace(doc) == "" {
		return docIntro + beginMarker + "\n" + table + endMarker + "\n", nil
	}
	return replaceBlock(doc, beginMarker, endMarker, "Gateway (HTTP reverse proxy)", table)
}

// replaceBlock returns doc with the text between the markers begin and end
// replaced by table. A doc without them gets a section with the heading
// appended, holding the markers and the table; everything else is kept.
func replaceBlock(doc, begin, end, heading, table string) (string, error) {
	block := begin + "\n" + table + end
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		return doc + "\n## " + heading + "\n\n" + block + "\n", nil
	case i < 0 || j < 0 || j < i:
		return "", errNoMarkers
	}
	return doc[:i] + block + doc[j+len(end):], nil
}

// writeSection rewrites the generated gateway table in the file at path.
func writeSection(path, table string) error {
	return writeDoc(path, func(doc string) (string, error) { return replaceSection(doc, table) })
}

// writeBlock rewrites the text between begin and end in the file at path
// (see replaceBlock).
func writeBlock(path, begin, end, heading, table string) error {
	return writeDoc(path, func(doc string) (string, error) { return replaceBlock(doc, begin, end, heading, table) })
}

func writeDoc(path string, edit func(string) (string, error)) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc, err := edit(string(old))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
