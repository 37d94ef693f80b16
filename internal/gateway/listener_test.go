package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/telemetry"
	"github.com/duohuo/duohuo/internal/testexec"
)

// closedByServer reports whether the server closes c without answering.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func TestMaxConnectionsClosesTheConnectionsBeyond(t *testing.T) {
	rec := newRecorder(t)
	reg := prometheus.NewRegistry()
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0", max_connections: 3}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, rec.addr()))
	g, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	addr := g.Addrs()[0]

	// Three connections that each had an answer are held open.
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection within the cap: %v %v", resp, err)
		}
		resp.Body.Close()
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if !closedByServer(extra) {
		t.Fatal("a fourth connection was kept open, want it closed")
	}
	refused := func() float64 {
		return testutil.ToFloat64(gatewayMetric(t, reg, "duohuo_connections_refused_total"))
	}
	if got := refused(); got != 1 {
		t.Errorf("duohuo_connections_refused_total = %v, want 1", got)
	}

	// A closed connection makes room for the next.
	held[0].Close()
	eventually(t, "a new connection to be served after one closed", 20*time.Millisecond, func() bool {
		resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// gatewayMetric returns the one series of the named metric.
func gatewayMetric(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
				}
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// The child of TestAdminAnswersWhileThePublicListenerIsFlooded: a gateway
// and its admin API in a process allowed 256 open files.
const floodChildEnv = "DUOHUO_TEST_FLOOD_CHILD"

func TestAdminAnswersWhileThePublicListenerIsFlooded(t *testing.T) {
	cmd := testexec.Command(os.Args[0], "-test.run=^$") // through the emulator, under build/crosstest.sh
	cmd.Env = append(os.Environ(), floodChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	var public, admin string
	if _, err := fmt.Fscan(bufio.NewReader(stdout), &public, &admin); err != nil {
		t.Fatalf("child's addresses: %v", err)
	}

	// More idle connections than the child may open files.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 400 {
		c, err := net.DialTimeout("tcp", public, 5*time.Second)
		if err != nil {
			continue // a full backlog: what a flood looks like
		}
		conns = append(conns, c)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := client.Get("http://" + admin + path)
		if err != nil {
			t.Fatalf("admin %s while flooded: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("admin %s = %d, want 200", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(b), `duohuo_connections_refused_total{listener="public",reason="max_connections"}`) {
			t.Errorf("/metrics has no refused connections of the public listener")
		}
	}
}

// runFloodChild is the child's side; it returns when its stdin closes.
func runFloodChild() {
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		os.Exit(2)
	}
	reg := prometheus.NewRegistry()
	cfg, err := config.Parse("child.yaml", []byte(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "127.0.0.1:1"}]}}]}]
routes: [{name: all, service: api}]
`))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.DiscardHandler)
	g, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: log})
	if err == nil {
		err = g.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	a, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0", Registry: reg, Logger: log, Ready: func() error { return nil }})
	if err == nil {
		err = a.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(g.Addrs()[0], a.Addr())
	io.Copy(io.Discard, os.Stdin)
	a.Shutdown(context.Background())
	g.Shutdown(context.Background())
}
