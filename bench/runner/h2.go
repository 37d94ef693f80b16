package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The gRPC and h2c benchmark (bench/grpc.sh, runner -h2). Two cells, each
// with its own contestants, run in interleaved rounds like the gateway
// benchmark:
//
//   - grpc: h2load sends unary gRPC calls (POST, application/grpc, one
//     5-byte-prefixed UInt32Value) over h2c; the proxy forwards them over
//     HTTP/2 in clear text to bench/grpcbackend's grpc-go server on kept-alive
//     connections (nginx grpc_pass grpc://, duohuo upstream protocol h2c).
//   - h2c: h2load sends GETs over h2c; the proxy forwards them over HTTP/1.1
//     to bench/grpcbackend's HTTP server (nginx proxies to upstreams over
//     HTTP/1.x only, except grpc_pass, so duohuo is set to http1 as well).
//     "direct" is h2c to the backend's own h2c listener.

// h2cells are the cells in run order.
var h2cells = []string{"grpc", "h2c"}

// h2load is one load shape: connections × concurrent streams on each.
type h2shape struct{ conns, streams int }

func (s h2shape) String() string { return fmt.Sprintf("%d×%d", s.conns, s.streams) }

// parseShapes parses "50x1,10x20".
func parseShapes(s string) ([]h2shape, error) {
	var out []h2shape
	for _, f := range strings.Split(s, ",") {
		c, m, ok := strings.Cut(strings.TrimSpace(f), "x")
		cn, err1 := strconv.Atoi(c)
		mn, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || cn <= 0 || mn <= 0 || cn > 1000 || mn > 100 {
			return nil, fmt.Errorf("%q: want CONNSxSTREAMS, e.g. 50x1 (at most 1000x100)", f)
		}
		out = append(out, h2shape{cn, mn})
	}
	return out, nil
}

// h2proxy is one contestant in one cell.
type h2proxy struct {
	name  string
	addr  string
	start func() (*process, error) // nil for direct
}

type h2bench struct {
	*bench             // spawn, writeConf, bin, machine, dir, opts
	grpcAddr, httpAddr string
	bodies             map[int]string // request body file of a Reply call, by size
	proxies            map[string][]*h2proxy
	results            []h2result
}

func runH2(o options, sizes []int) error {
	shapes, err := parseShapes(o.shapes)
	if err != nil {
		return fmt.Errorf("-shapes: %w", err)
	}
	dir := filepath.Join(o.out, "h2-"+time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m := machineInfo(o.bin)
	m.Versions["h2load"] = words(firstLine(exec.Command("h2load", "--version").CombinedOutput()), 3)
	fmt.Printf("machine: %s, %d CPUs, load %s\n", m.CPU, m.NProc, m.LoadStart)
	b := &h2bench{bench: &bench{opts: o, dir: dir, machine: m}, bodies: map[int]string{}, proxies: map[string][]*h2proxy{}}
	if err := b.startBackend(sizes); err != nil {
		return err
	}
	defer stop(b.backend)
	want := map[string]bool{}
	for _, n := range strings.Split(o.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	for _, cell := range h2cells {
		for _, name := range []string{"direct", "nginx", "duohuo"} {
			if len(want) > 0 && !want[name] {
				continue
			}
			p, err := b.contestant(cell, name)
			if err != nil {
				return fmt.Errorf("%s %s: %w", cell, name, err)
			}
			b.proxies[cell] = append(b.proxies[cell], p)
		}
	}
	if len(b.proxies) == 0 {
		return fmt.Errorf("-only %q names no contestant (direct, nginx, duohuo)", o.only)
	}
	total := o.rounds * len(h2cells) * len(sizes) * len(shapes) * len(b.proxies["grpc"])
	per := o.duration + o.warmup + 2*time.Second
	fmt.Printf("%d runs, about %v; raw results in %s\n", total, (time.Duration(total) * per).Round(time.Second), dir)
	failed := map[string]string{} // contestant that failed its check: skipped from then on
	n := 0
	for round := 1; round <= o.rounds; round++ {
		for _, cell := range h2cells {
			for _, size := range sizes {
				for _, sh := range shapes {
					for _, p := range b.proxies[cell] {
						n++
						key := cell + "/" + p.name
						r := h2result{Cell: cell, Proxy: p.name, Round: round, Size: size, Conns: sh.conns, Streams: sh.streams, Load: loadAvg(), Start: time.Now().UTC().Format(time.RFC3339)}
						if why, ok := failed[key]; ok {
							r.Err = why
						} else if err := b.measure(p, &r); err != nil {
							if !isCheckFailure(err) {
								return fmt.Errorf("round %d, %s %s, %d B, %v: %w", round, cell, p.name, size, sh, err)
							}
							failed[key], r.Err = err.Error(), err.Error()
						}
						if r.Err != "" {
							fmt.Printf("[%d/%d] round %d %-4s %-6s %4d B %-5v NOT MEASURED: %s\n", n, total, round, cell, p.name, size, sh, r.Err)
						} else {
							fmt.Printf("[%d/%d] round %d %-4s %-6s %4d B %-5v %8.0f rps  p50 %6.2f ms  p99 %6.2f ms  cpu %5.1f µs/req  rss %5.1f MiB  load %s%s\n",
								n, total, round, cell, p.name, size, sh, r.RPS, r.P50ms, r.P99ms, r.CPUPerReqUs, r.RSSMiB, r.Load, h2errNote(r))
						}
						b.results = append(b.results, r)
					}
				}
			}
		}
	}
	b.machine.LoadEnd = loadAvg()
	if err := b.writeH2Raw(); err != nil {
		return err
	}
	table := b.h2table(sizes, shapes)
	fmt.Println()
	fmt.Println(table)
	if o.doc != "" {
		if err := writeBlock(o.doc, h2Begin, h2End, h2Heading, table); err != nil {
			return err
		}
		fmt.Printf("wrote the gRPC and h2c table into %s\n", o.doc)
	}
	return nil
}

func h2errNote(r h2result) string {
	if r.errors() == 0 {
		return ""
	}
	return fmt.Sprintf("  ERRORS: %d failed, %d non-2xx, %d short bodies", r.Failed, r.Non2xx, r.Short)
}

// startBackend starts bench/grpcbackend and writes the request bodies.
func (b *h2bench) startBackend(sizes []int) error {
	var err error
	if b.grpcAddr, err = freeAddr(); err != nil {
		return err
	}
	if b.httpAddr, err = freeAddr(); err != nil {
		return err
	}
	for _, size := range sizes {
		body, err := exec.Command(b.bin("grpcbackend"), "-request", strconv.Itoa(size)).Output()
		if err != nil {
			return fmt.Errorf("grpcbackend -request %d: %w", size, err)
		}
		path, err := b.writeConf(fmt.Sprintf("reply%d.bin", size), string(body))
		if err != nil {
			return err
		}
		b.bodies[size] = path
	}
	b.backend, err = b.spawn("grpcbackend", []string{"GOMAXPROCS=1"}, b.bin("grpcbackend"), "-grpc", b.grpcAddr, "-http", b.httpAddr)
	if err != nil {
		return err
	}
	logs := filepath.Join(b.dir, "logs")
	for _, c := range []struct{ cell, addr string }{{"grpc", b.grpcAddr}, {"h2c", b.httpAddr}} {
		if err := waitH2(c.addr, c.cell, sizesFirst(b.bodies), b.bodies, b.backend, "grpcbackend", logs); err != nil {
			return err
		}
	}
	return nil
}

func sizesFirst(m map[int]string) int {
	first := 0
	for s := range m {
		if first == 0 || s < first {
			first = s
		}
	}
	return first
}

// contestant prepares the configuration of one contestant of one cell.
func (b *h2bench) contestant(cell, name string) (*h2proxy, error) {
	p := &h2proxy{name: name}
	upstream := b.grpcAddr
	if cell == "h2c" {
		upstream = b.httpAddr
	}
	if name == "direct" {
		p.addr = upstream
		return p, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p.addr = addr
	switch name {
	case "nginx":
		return p, b.h2nginx(p, cell, upstream)
	case "duohuo":
		return p, b.h2duohuo(p, cell, upstream)
	}
	return nil, fmt.Errorf("unknown contestant %q", name)
}

// h2nginx: one worker, h2c listener (listen … http2, no TLS: prior
// knowledge), upstream keep-alive, no access log. gRPC goes through
// grpc_pass grpc:// (HTTP/2 in clear text); plain requests through
// proxy_pass over HTTP/1.1, the only upstream protocol of proxy_pass.
func (b *h2bench) h2nginx(p *h2proxy, cell, upstream string) error {
	prefix, err := filepath.Abs(filepath.Join(b.dir, "nginx-"+cell))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o755); err != nil {
		return err
	}
	location := `grpc_pass grpc://backend;`
	if cell == "h2c" {
		location = `proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`
	}
	conf, err := b.writeConf("nginx-"+cell+".conf", fmt.Sprintf(`# written by bench/runner -h2
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    upstream backend {
        server %[2]s;
        keepalive 1024;
        keepalive_requests 10000000;
    }
    server {
        listen %[3]s http2;
        location / {
            %[4]s
        }
    }
}
`, prefix, upstream, p.addr, location))
	if err != nil {
		return err
	}
	p.start = func() (*process, error) {
		return b.spawn("nginx-"+cell, nil, "nginx", "-p", prefix, "-e", prefix+"/logs/error.log", "-c", conf)
	}
	return nil
}

// h2duohuoConfig is duohuo serve's defaults (outlier detection, metrics,
// retries under the budget, request IDs, X-Forwarded-*, Via) with the
// upstream protocol of the cell: h2c for gRPC, http1 for the h2c cell.
const h2duohuoConfig = `# written by bench/runner -h2
log: {level: warn}
admin: {listen: "%s"}
listeners: [{name: public, listen: "%s"}]
services:
  - name: backend
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    upstream: {protocol: %s, max_idle_conns_per_instance: 1024}
routes: [{name: all, service: backend}]
`

func (b *h2bench) h2duohuo(p *h2proxy, cell, upstream string) error {
	admin, err := freeAddr()
	if err != nil {
		return err
	}
	protocol := "h2c"
	if cell == "h2c" {
		protocol = "http1"
	}
	conf, err := b.writeConf("duohuo-"+cell+".yaml", fmt.Sprintf(h2duohuoConfig, admin, p.addr, upstream, protocol))
	if err != nil {
		return err
	}
	p.start = func() (*process, error) {
		return b.spawn("duohuo-"+cell, []string{"GOMAXPROCS=1"}, b.bin("duohuo"), "serve", "--no-watch", "-c", conf)
	}
	return nil
}

// checkFailure is a contestant that runs but answers wrongly: it is
// reported as not measured instead of stopping the benchmark.
type checkFailure struct{ err error }

func (c checkFailure) Error() string { return "check: " + c.err.Error() }

func isCheckFailure(err error) bool {
	_, ok := err.(checkFailure)
	return ok
}

// h2client speaks HTTP/2 in clear text with prior knowledge, as h2load does.
func h2client() *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 2 * time.Second, Transport: tr}
}

// grpcReplyLen is the length of a framed Reply answer of size bytes: the
// prefix, then a BytesValue (tag, varint length, bytes).
func grpcReplyLen(size int) int64 {
	return int64(5 + 1 + len(binary.AppendUvarint(nil, uint64(size))) + size)
}

// expectedData is the DATA bytes of one answer in a cell.
func expectedData(cell string, size int) int64 {
	if cell == "grpc" {
		return grpcReplyLen(size)
	}
	return int64(size)
}

// checkH2 sends one request of the cell to addr and checks the answer
// whole: status 200 and the body length, and for gRPC the content type and
// grpc-status 0 in the trailers.
func checkH2(addr, cell string, size int, bodies map[int]string) error {
	c := h2client()
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	var req *http.Request
	if cell == "grpc" {
		body, err := os.ReadFile(bodies[size])
		if err != nil {
			return err
		}
		req, err = http.NewRequest(http.MethodPost, "http://"+addr+"/duohuo.bench.Backend/Reply", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
	} else {
		var err error
		if req, err = http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/%d", addr, size), nil); err != nil {
			return err
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return checkFailure{fmt.Errorf("status %d", resp.StatusCode)}
	}
	if cell == "grpc" {
		st, msg := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
		if st == "" {
			st, msg = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
		}
		if st != "0" {
			if m, err := url.PathUnescape(msg); err == nil {
				msg = m
			}
			return checkFailure{fmt.Errorf("grpc-status %q: %s", st, msg)}
		}
	}
	if want := expectedData(cell, size); n != want {
		return checkFailure{fmt.Errorf("%d body bytes, want %d", n, want)}
	}
	return nil
}

// waitH2 polls checkH2 until it passes, the process exits, or 15s pass; a
// wrong answer that persists is a checkFailure.
func waitH2(addr, cell string, size int, bodies map[int]string, p *process, what, logs string) error {
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited: %s (see %s)", what, p.cmd.ProcessState, logs)
			default:
			}
		}
		if last = checkH2(addr, cell, size, bodies); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if isCheckFailure(last) {
		return last
	}
	return fmt.Errorf("%s at %s not ready after 15s: %v (see %s)", what, addr, last, logs)
}

// measure runs one contestant once: start, check, warm up (which also
// measures the rate), run a fixed number of requests that takes about
// -duration at that rate, stop.
func (b *h2bench) measure(p *h2proxy, r *h2result) error {
	watched := b.backend
	logs := filepath.Join(b.dir, "logs")
	if p.start != nil {
		cmd, err := p.start()
		if err != nil {
			return err
		}
		defer stop(cmd)
		watched = cmd
		if err := waitH2(p.addr, r.Cell, r.Size, b.bodies, cmd, p.name, logs); err != nil {
			return err
		}
	} else if err := checkH2(p.addr, r.Cell, r.Size, b.bodies); err != nil {
		return err
	}
	base := fmt.Sprintf("r%d-%s-%s-%d-c%dm%d", r.Round, r.Cell, p.name, r.Size, r.Conns, r.Streams)
	warm, err := b.h2load(p.addr, r, fmt.Sprintf("-D%d", max(1, int(b.opts.warmup/time.Second))), base+"-warmup", "")
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	// A count, so that every request is accounted for (the DATA bytes of
	// h2load's time-based runs include its warm-up), bounded to keep a run
	// short whatever the warm-up rate.
	want := int64(warm.RPS * b.opts.duration.Seconds())
	want = min(max(want, int64(r.Conns*r.Streams*10), 1000), 5_000_000)
	logPath := filepath.Join(b.dir, "h2load", base+".log")
	cpu0 := cpuTicks(watched.pid)
	s, err := b.h2load(p.addr, r, "-n"+strconv.FormatInt(want, 10), base, logPath)
	cpu1 := cpuTicks(watched.pid)
	if err != nil {
		return err
	}
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	p50, p99, _, err := latencyPercentiles(f)
	f.Close()
	os.Remove(logPath) // large; the summary is kept
	if err != nil {
		return fmt.Errorf("%s: %w", logPath, err)
	}
	r.RPS, r.Requests, r.P50ms, r.P99ms = s.RPS, s.Total, p50, p99
	r.Failed = s.Failed + s.Errored + s.Tout
	r.Non2xx = s.S3xx + s.S4xx + s.S5xx
	r.Short = shortBodies(s, expectedData(r.Cell, r.Size))
	if s.Total > 0 {
		r.CPUPerReqUs = float64(cpu1-cpu0) / float64(clockTicks()) * 1e6 / float64(s.Total)
	}
	r.RSSMiB = float64(peakRSSKiB(watched.pid)) / 1024
	return nil
}

// h2load runs one load of the cell against addr: one thread (h2load would
// otherwise take the core the proxy needs), r.Conns connections with
// r.Streams concurrent streams each, bounded by bound (-n count or -D
// seconds) and killed if it runs 30s past -duration. Its output is kept
// under DIR/h2load.
func (b *h2bench) h2load(addr string, r *h2result, bound, name, logPath string) (h2loadStats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.duration+b.opts.warmup+30*time.Second)
	defer cancel()
	args := []string{"-t1", "-c" + strconv.Itoa(r.Conns), "-m" + strconv.Itoa(r.Streams), bound}
	if logPath != "" {
		args = append(args, "--log-file="+logPath)
	}
	url := fmt.Sprintf("http://%s/%d", addr, r.Size)
	if r.Cell == "grpc" {
		args = append(args, "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", b.bodies[r.Size])
		url = "http://" + addr + "/duohuo.bench.Backend/Reply"
	}
	if err := os.MkdirAll(filepath.Join(b.dir, "h2load"), 0o755); err != nil {
		return h2loadStats{}, err
	}
	out, err := exec.CommandContext(ctx, "h2load", append(args, url)...).CombinedOutput()
	os.WriteFile(filepath.Join(b.dir, "h2load", name+".txt"), out, 0o644)
	if err != nil {
		return h2loadStats{}, fmt.Errorf("h2load %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
	}
	s, err := parseH2load(string(out))
	if err != nil {
		return s, fmt.Errorf("h2load output (%s): %w", name, err)
	}
	return s, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (b *h2bench) writeH2Raw() error {
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
