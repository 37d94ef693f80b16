package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proxy is one contestant: how to start it for a run and where it listens.
// start is nil for "direct" (wrk talks to the backend itself).
type proxy struct {
	name  string
	addr  string
	start func() (*process, error)
	admin string // duohuo's admin listener, for pprof
}

type bench struct {
	opts    options
	dir     string
	machine machine
	backend *process
	bAddr   string
	proxies []*proxy
	results []result
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// process is a started contestant or backend; done is closed when it exits
// (a goroutine owned by spawn waits for it).
type process struct {
	pid  int
	done chan struct{}
	cmd  *exec.Cmd // ProcessState is set once done is closed
}

// spawn starts a process in its own process group with its output in
// DIR/logs/name.log.
func (b *bench) spawn(name string, env []string, argv ...string) (*process, error) {
	if err := os.MkdirAll(filepath.Join(b.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(b.dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{}), cmd: cmd}
	go func() {
		defer close(p.done)
		cmd.Wait()
		logf.Close()
	}()
	return p, nil
}

// stop ends a process group: SIGTERM, then SIGKILL after 5s.
func stop(p *process) {
	if p == nil {
		return
	}
	syscall.Kill(-p.pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
	// Children that outlived the leader (none expected) go with the group.
	syscall.Kill(-p.pid, syscall.SIGKILL)
}

// waitReady polls GET http://addr/64 until it answers 200 with 64 bytes.
func waitReady(addr string, p *process, what, logs string) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
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
		resp, err := c.Get("http://" + addr + "/64")
		if err == nil {
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && n == 64 {
				return nil
			}
			err = fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s at %s not ready after 15s: %v (see %s)", what, addr, last, logs)
}

func (b *bench) bin(name string) string { return filepath.Join(b.opts.bin, name) }

func (b *bench) startBackend() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd, err := b.spawn("backend", []string{"GOMAXPROCS=1"}, b.bin("backend"), "-addr", addr)
	if err != nil {
		return err
	}
	b.backend, b.bAddr = cmd, addr
	return waitReady(addr, cmd, "backend", filepath.Join(b.dir, "logs"))
}

func (b *bench) stopBackend() { stop(b.backend) }

// allProxies prepares the configuration of every contestant, in run order.
func (b *bench) allProxies(only string) ([]*proxy, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []*proxy
	add := func(name string, mk func(p *proxy) error) error {
		if len(want) > 0 && !want[name] {
			return nil
		}
		p := &proxy{name: name}
		if err := mk(p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, p)
		return nil
	}
	steps := []struct {
		name string
		mk   func(p *proxy) error
	}{
		{"direct", func(p *proxy) error { p.addr = b.bAddr; return nil }},
		{"nginx", b.nginx},
		{"haproxy", b.haproxy},
		{"goproxy", b.goproxy},
		{"duohuo", b.duohuo},
	}
	if b.opts.before != "" {
		steps = append(steps, struct {
			name string
			mk   func(p *proxy) error
		}{"duohuo-before", b.duohuoBefore})
	}
	for _, s := range steps {
		if err := add(s.name, s.mk); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-only %q names no proxy", only)
	}
	return out, nil
}

func (b *bench) writeConf(name, text string) (string, error) {
	path, err := filepath.Abs(filepath.Join(b.dir, name))
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// nginx: one worker, upstream keep-alive, no access log, X-Forwarded-For.
func (b *bench) nginx(p *proxy) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	p.addr = addr
	prefix, err := filepath.Abs(filepath.Join(b.dir, "nginx"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o755); err != nil {
		return err
	}
	conf, err := b.writeConf("nginx.conf", fmt.Sprintf(`# written by bench/runner
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
        listen %[3]s;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`, prefix, b.bAddr, addr))
	if err != nil {
		return err
	}
	p.start = func() (*process, error) {
		return b.spawn("nginx", nil, "nginx", "-p", prefix, "-e", prefix+"/logs/error.log", "-c", conf)
	}
	return nil
}

// haproxy: one thread, keep-alive both sides (2.6 default, http-reuse safe),
// no logs, X-Forwarded-For.
func (b *bench) haproxy(p *proxy) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	p.addr = addr
	conf, err := b.writeConf("haproxy.cfg", fmt.Sprintf(`# written by bench/runner
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option forwardfor
frontend fe
    bind %s
    default_backend be
backend be
    server s1 %s
`, addr, b.bAddr))
	if err != nil {
		return err
	}
	p.start = func() (*process, error) {
		return b.spawn("haproxy", nil, "haproxy", "-db", "-f", conf)
	}
	return nil
}

// goproxy: the plain httputil.ReverseProxy (bench/goproxy).
func (b *bench) goproxy(p *proxy) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	p.addr = addr
	p.start = func() (*process, error) {
		return b.spawn("goproxy", []string{"GOMAXPROCS=1"}, b.bin("goproxy"), "-addr", addr, "-upstream", "http://"+b.bAddr)
	}
	return nil
}

// duohuoConfig turns on what `duohuo serve` does by default (outlier
// detection, metrics with instance labels, one retry under the retry budget,
// request IDs, X-Forwarded-*, Via) plus an active HTTP health check.
const duohuoConfig = `# written by bench/runner
log: {level: warn}
admin: {listen: "%s"}
listeners: [{name: public, listen: "%s"}]
services:
  - name: backend
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health:
      active: {type: http, path: /healthz, interval: 5s}
    upstream: {max_idle_conns_per_instance: 1024}
routes: [{name: all, service: backend}]
`

func (b *bench) duohuo(p *proxy) error { return b.duohuoFrom(p, "duohuo", b.bin("duohuo")) }

// duohuoBefore is another duohuo binary (-before), e.g. one built without a
// change, run with the same configuration for a before/after comparison.
func (b *bench) duohuoBefore(p *proxy) error {
	return b.duohuoFrom(p, "duohuo-before", b.opts.before)
}

func (b *bench) duohuoFrom(p *proxy, name, binary string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	admin, err := freeAddr()
	if err != nil {
		return err
	}
	p.addr, p.admin = addr, admin
	conf, err := b.writeConf(name+".yaml", fmt.Sprintf(duohuoConfig, admin, addr, b.bAddr))
	if err != nil {
		return err
	}
	p.start = func() (*process, error) {
		return b.spawn(name, []string{"GOMAXPROCS=1"}, binary, "serve", "--no-watch", "-c", conf)
	}
	return nil
}

// measure runs one contestant once: start, wait until ready, warm up,
// measure, stop.
func (b *bench) measure(p *proxy, round, size, conns int) (result, error) {
	r := result{Proxy: p.name, Round: round, Size: size, Conns: conns, Load: loadAvg(), Start: time.Now().UTC()}
	var cmd *process
	watched := b.backend
	if p.start != nil {
		var err error
		if cmd, err = p.start(); err != nil {
			return r, err
		}
		defer stop(cmd)
		watched = cmd
		if err := waitReady(p.addr, cmd, p.name, filepath.Join(b.dir, "logs")); err != nil {
			return r, err
		}
	}
	url := fmt.Sprintf("http://%s/%d", p.addr, size)
	if _, err := wrk(b.opts.warmup, conns, url); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	cpu0 := cpuTicks(watched.pid)
	profDone := make(chan error, 1)
	if b.opts.profile && p.admin != "" && size == 64 {
		go func() { profDone <- b.cpuProfile(p.name, p.admin, round, conns) }()
	} else {
		profDone <- nil
	}
	out, err := wrk(b.opts.duration, conns, url)
	cpu1 := cpuTicks(watched.pid)
	if perr := <-profDone; perr != nil {
		fmt.Fprintln(os.Stderr, "profile:", perr)
	}
	name := fmt.Sprintf("r%d-%s-%d-c%d.txt", round, p.name, size, conns)
	if werr := os.MkdirAll(filepath.Join(b.dir, "wrk"), 0o755); werr == nil {
		os.WriteFile(filepath.Join(b.dir, "wrk", name), []byte(out), 0o644)
	}
	if err != nil {
		return r, err
	}
	if err := parseWrk(out, &r); err != nil {
		return r, fmt.Errorf("wrk output (%s): %w", name, err)
	}
	if r.Requests > 0 {
		r.CPUPerReqUs = float64(cpu1-cpu0) / float64(clockTicks()) * 1e6 / float64(r.Requests)
	}
	r.RSSMiB = float64(peakRSSKiB(watched.pid)) / 1024
	return r, nil
}

// wrk runs one load: one thread (wrk would otherwise take the core the
// proxy needs), conns connections, with latency percentiles.
func wrk(d time.Duration, conns int, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	secs := fmt.Sprintf("%ds", max(1, int(d.Round(time.Second)/time.Second))) // wrk takes whole seconds
	out, err := exec.CommandContext(ctx, "wrk", "-t1", fmt.Sprintf("-c%d", conns), "-d"+secs, "--latency", url).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("wrk: %w: %s", err, out)
	}
	return string(out), nil
}

// cpuProfile saves a CPU profile of duohuo taken during the measured run.
func (b *bench) cpuProfile(name, admin string, round, conns int) error {
	secs := max(1, int(b.opts.duration/time.Second)-1)
	c := &http.Client{Timeout: time.Duration(secs+10) * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, secs))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("pprof: status %d", resp.StatusCode)
	}
	f, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("%s-cpu-64-c%d-r%d.pprof", name, conns, round)))
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
