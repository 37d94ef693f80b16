package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

func TestMain(m *testing.M) {
	if os.Getenv(floodChildEnv) != "" {
		runFloodChild()
		return
	}
	goleak.VerifyTestMain(m,
		// memberlist's Shutdown (the replicas of the global limit tests)
		// does not wait for a probe in flight; it ends by itself within
		// one probe interval, as in package replica's tests.
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"),
	)
}

func upstream(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	return cfg
}

func start(t *testing.T, cfg *config.Config, dir string) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(gateway.Options{Config: cfg, BaseDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		g.Shutdown(context.Background())
		t.Fatal(err)
	}
	return g
}

// load sends requests from n goroutines until stop is closed (or a bound of
// 20 000 requests each) and counts non-200 answers and who answered.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	by         map[string]int
	firstErr   atomic.Value
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startLoad(url string, n int) *load { return startPacedLoad(url, n, 0) }

// startPacedLoad is startLoad with a pause after each request, so that a
// load meant to last through a long event does not reach its bound first.
func startPacedLoad(url string, n int, pause time.Duration) *load {
	l := &load{by: map[string]int{}, stop: make(chan struct{})}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	for i := 0; i < n; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.CloseIdleConnections()
			for j := 0; j < 20000; j++ {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				l.by[string(b)]++
				l.mu.Unlock()
				if pause > 0 {
					select {
					case <-l.stop:
						return
					case <-time.After(pause):
					}
				}
			}
		}()
	}
	return l
}

func (l *load) finish() { close(l.stop); l.wg.Wait() }

func (l *load) reset() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	by := l.by
	l.by = map[string]int{}
	return by
}

// eventually polls cond every tick until it holds, failing the test with
// what after 10s: every wait in these tests is bounded.
func eventually(t *testing.T, what string, tick time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after 10s: %s", what)
		case <-ticker.C:
		}
	}
}

// waitServed waits until the load has seen name answer.
func (l *load) waitServed(t *testing.T, name string) {
	t.Helper()
	eventually(t, name+" to answer", 5*time.Millisecond, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.by[name] > 0
	})
}

const fileConfig = `
listeners:
  - name: public
    listen: 127.0.0.1:0
services:
  - name: api
    balancer: %s
    discovery:
      - file:
          path: instances.yaml
routes:
  - name: all
    service: api
    timeout: %s
`

func instancesFile(addrs ...string) string {
	var b strings.Builder
	b.WriteString("services:\n  api:\n")
	for _, a := range addrs {
		fmt.Fprintf(&b, "    - addr: %s\n", a)
	}
	return b.String()
}

// Changing the instances file and reloading the routing config under
// concurrent load fails no request.
func TestReloadUnderLoadLosesNoRequest(t *testing.T) {
	a, b, c := upstream(t, "a"), upstream(t, "b"), upstream(t, "c")
	dir := t.TempDir()
	inst := filepath.Join(dir, "instances.yaml")
	write := func(text string) {
		t.Helper()
		tmp := inst + ".tmp"
		if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, inst); err != nil { // how deploy tools replace files
			t.Fatal(err)
		}
	}
	write(instancesFile(a, b))
	g := start(t, parse(t, fmt.Sprintf(fileConfig, "p2c_ewma", "5s")), dir)
	defer g.Shutdown(context.Background())

	l := startLoad("http://"+g.Addrs()[0]+"/", 4)
	l.waitServed(t, "a")

	// Instances file: a and b → b and c.
	write(instancesFile(b, c))
	l.waitServed(t, "c")
	eventually(t, "a to stop serving after it left the instances file", 50*time.Millisecond,
		func() bool { return l.reset()["a"] == 0 })

	// Routing config: a new balancer replaces the service (drained, then
	// closed), then the route timeout changes; then back.
	for i, cfg := range []string{
		fmt.Sprintf(fileConfig, "round_robin", "5s"),
		fmt.Sprintf(fileConfig, "round_robin", "3s"),
		fmt.Sprintf(fileConfig, "least_request", "5s"),
		fmt.Sprintf(fileConfig, "p2c_ewma", "5s"),
	} {
		before := l.ok.Load()
		if err := g.Reload(parse(t, cfg)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		eventually(t, fmt.Sprintf("200 requests after reload %d", i), 5*time.Millisecond,
			func() bool { return l.ok.Load() >= before+200 })
	}
	l.finish()
	if f := l.failed.Load(); f != 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", f, f+l.ok.Load(), l.firstErr.Load())
	}
	t.Logf("%d requests, 0 failed, across 1 instances-file change and 4 config reloads", l.ok.Load())
}

// A reload that names an unknown service is refused and the old routing keeps
// serving.
func TestReloadRefusedKeepsServing(t *testing.T) {
	a := upstream(t, "a")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, a)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	bad := parse(t, cfg)
	bad.Routes[0].Service = "nope"
	if err := g.Reload(bad); err == nil {
		t.Fatal("Reload with an unknown service = nil, want an error")
	}
	resp, err := http.Get("http://" + g.Addrs()[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "a" {
		t.Errorf("after a refused reload: %q, want a", body)
	}
}

func TestRouteMatching(t *testing.T) {
	a, b, c := upstream(t, "a"), upstream(t, "b"), upstream(t, "c")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - {name: sa, discovery: [{static: {instances: [{addr: "%s"}]}}]}
  - {name: sb, discovery: [{static: {instances: [{addr: "%s"}]}}]}
  - {name: sc, discovery: [{static: {instances: [{addr: "%s"}]}}]}
routes:
  - {name: api-post, match: {host: api.example.com, path_prefix: /v1, methods: [POST]}, service: sb}
  - {name: api, match: {host: api.example.com, path_prefix: /v1}, service: sa}
  - {name: wild, match: {host: "*.example.com"}, service: sc}
`, a, b, c)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	for _, tc := range []struct {
		name, method, host, path string
		want                     string
		status                   int
	}{
		{"host and prefix", "GET", "api.example.com", "/v1/users", "a", 200},
		{"method picks the more specific route first", "POST", "API.example.com:8080", "/v1/users", "b", 200},
		{"wildcard host", "GET", "www.example.com", "/", "c", 200},
		{"prefix mismatch falls through to wildcard", "GET", "api.example.com", "/v2", "c", 200},
		{"no route", "GET", "example.org", "/", "", 404},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+g.Addrs()[0]+tc.path, nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 200 && string(body) != tc.want) {
			t.Errorf("%s: %s %s%s = %d %q, want %d %q", tc.name, tc.method, tc.host, tc.path, resp.StatusCode, body, tc.status, tc.want)
		}
	}
}

// A dead instance costs no client error: the connect failure is retried on
// another instance.
func TestConnectFailureRetriedElsewhere(t *testing.T) {
	a := upstream(t, "a")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.Listener.Addr().String()
	dead.Close()
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, balancer: round_robin, discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]}]
routes: [{name: all, service: api, retry: {attempts: 1}}]
`, a, deadAddr)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	for i := 0; i < 50; i++ {
		resp, err := http.Get("http://" + g.Addrs()[0] + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "a" {
			t.Fatalf("request %d: %d %q, want 200 a", i, resp.StatusCode, body)
		}
	}
}

func TestAdminServices(t *testing.T) {
	a := upstream(t, "a")
	cfg := fmt.Sprintf(`
site: {cloud: c1, region: r1}
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s", cloud: c1, region: r1, zone: z1}]}}]}]
routes: [{name: all, service: api}]
`, a)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	srv := httptest.NewServer(g.AdminHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/services/api")
	if err != nil {
		t.Fatal(err)
	}
	var st gateway.ServiceStatus
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "api" || len(st.Instances) != 1 || st.Instances[0].Addr.String() != a || st.Serving != "same_region" || len(st.Sources) != 1 {
		t.Errorf("GET /v1/services/api = %+v, want api with instance %s serving from same_region and one source", st, a)
	}
	resp, err = http.Get(srv.URL + "/v1/services/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/services/nope = %d, want 404", resp.StatusCode)
	}
}

// Clients may speak HTTP/2 in clear text (prior knowledge, h2c); slow
// clients that never finish their headers are cut off.
func TestHTTP2AndSlowloris(t *testing.T) {
	a := upstream(t, "a")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0", read_header_timeout: 200ms}]
services: [{name: api, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: all, service: api}]
`, a)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + g.Addrs()[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != "a" {
		t.Errorf("h2c GET = %s %q, want HTTP/2.0 a", resp.Proto, body)
	}

	c, err := net.Dial("tcp", g.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ") // never finished
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c) // the server closes the connection
	if err != nil {
		t.Fatalf("slow client: %v, want the server to close the connection", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow client held the connection %v, want about read_header_timeout", d)
	}
}
