package drill

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

func TestRunAgainstATargetURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hello" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	rep, err := Run(t.Context(), Options{Target: srv.URL + "/hello", Rate: 50, Duration: 4 * time.Second, Warmup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "target" {
		t.Fatalf("scenarios = %+v, want one named target", rep.Scenarios)
	}
	p, ok := rep.Scenarios[0].Phase("steady")
	if !ok || p.Requests != 200 || p.OK != 200 || rep.Scenarios[0].Fault != nil {
		t.Errorf("steady phase = %+v, want 200 requests all ok and no fault", p)
	}
	if rep.Scenarios[0].GatewayAttempts {
		t.Error("GatewayAttempts = true for a target, want false: its counters cannot be read")
	}
}

func TestRunRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"duration too short for four phases", Options{Duration: 3 * time.Second}},
		{"duration over an hour", Options{Duration: 2 * time.Hour}},
		{"negative rate", Options{Rate: -5, Duration: 10 * time.Second}},
		{"target without a scheme", Options{Target: "localhost:8080/", Duration: 10 * time.Second}},
		{"target with another scheme", Options{Target: "ftp://localhost/", Duration: 10 * time.Second}},
		{"fault proxies without a target", Options{FaultProxies: []string{"http://127.0.0.1:8474"}, Duration: 10 * time.Second}},
		{"a fault proxy that is not a URL", Options{Target: "http://127.0.0.1:8080/", FaultProxies: []string{"127.0.0.1:8474"}, Duration: 10 * time.Second}},
		{"fault proxies for scenarios that do not use them", Options{Target: "http://127.0.0.1:8080/", FaultProxies: []string{"http://127.0.0.1:8474"}, Scenarios: []Scenario{Steady, Failover}, Duration: 10 * time.Second}},
		{"a negative per-try timeout", Options{PerTryTimeout: -time.Second, Duration: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tc.o); !errors.Is(err, ErrBadOptions) && !errors.Is(err, ErrBadLoad) {
				t.Errorf("Run(%+v) error = %v, want ErrBadOptions", tc.o, err)
			}
		})
	}
}

// chaosProxy is a `duohuo chaos proxy` in-process: a tcpproxy in front of
// an idle instance, with its admin API on loopback.
func chaosProxy(t *testing.T) (*tcpproxy.Proxy, string) {
	t.Helper()
	instance := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(instance.Close)
	p, err := tcpproxy.Listen("127.0.0.1:0", instance.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	admin := httptest.NewServer(p.AdminHandler())
	t.Cleanup(admin.Close)
	return p, admin.URL
}

// toxicWatcher is a target that answers 200 and notes whether the proxy
// had the drill's toxic at the time; onToxic runs on the first such
// request.
type toxicWatcher struct {
	p       *tcpproxy.Proxy
	seen    atomic.Bool
	onToxic func()
	once    sync.Once
}

func (w *toxicWatcher) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	for _, n := range w.p.Toxics() {
		if n.Name == blackholeToxic.Name {
			w.seen.Store(true)
			if w.onToxic != nil {
				w.once.Do(w.onToxic)
			}
		}
	}
}

// Through --fault-proxy the blackhole is set on the user's proxy during the
// fault phase only, and the report says what the proxy counted.
func TestTargetBreaksTheNetworkThroughFaultProxies(t *testing.T) {
	p, admin := chaosProxy(t)
	w := &toxicWatcher{p: p}
	srv := httptest.NewServer(w)
	defer srv.Close()
	rep, err := Run(t.Context(), Options{Target: srv.URL, FaultProxies: []string{admin}, Scenarios: []Scenario{Steady, Blackhole}, Rate: 50, Duration: 4 * time.Second, Warmup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !w.seen.Load() {
		t.Error("the target never saw the proxy blackholed")
	}
	if got := p.Toxics(); len(got) != 0 {
		t.Errorf("toxics after the drill = %v, want none", got)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != Blackhole.Name {
		t.Fatalf("scenarios = %v, want only blackhole (steady needs the demo)", scenarioNamesOf(rep))
	}
	sr := rep.Scenarios[0]
	if want := p.Addr().String() + " → " + p.Upstream(); len(sr.Faulty) != 1 || sr.Faulty[0] != want {
		t.Errorf("faulty = %v, want [%s]", sr.Faulty, want)
	}
	if sr.Fault == nil || sr.Fault.Proxies == nil || sr.Fault.Proxies.Counted != "connections" || len(sr.Fault.Proxies.Buckets) != 40 {
		t.Fatalf("fault report = %+v, want proxy figures counted in connections, 40 buckets", sr.Fault)
	}
	if len(sr.Errors) != 0 {
		t.Errorf("errors = %v, want none", sr.Errors)
	}
	if sr.TryTimeoutFrom != TryTimeoutBound || sr.TryTimeout != time.Second {
		t.Errorf("per-try timeout = %v from %q, want the 1s bound", sr.TryTimeout, sr.TryTimeoutFrom)
	}
}

func scenarioNamesOf(rep *Report) []string {
	var n []string
	for _, s := range rep.Scenarios {
		n = append(n, s.Name)
	}
	return n
}

// A drill stopped while the fault is on (Ctrl-C) repairs the user's proxy
// before it returns.
func TestTargetRepairsTheProxiesWhenStopped(t *testing.T) {
	p, admin := chaosProxy(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := &toxicWatcher{p: p, onToxic: cancel}
	srv := httptest.NewServer(w)
	defer srv.Close()
	_, err := Run(ctx, Options{Target: srv.URL, FaultProxies: []string{admin}, Scenarios: []Scenario{Blackhole}, Rate: 50, Duration: 8 * time.Second, Warmup: -1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run stopped in the fault = %v, want context.Canceled", err)
	}
	if !w.seen.Load() {
		t.Fatal("the fault was never on")
	}
	if got := p.Toxics(); len(got) != 0 {
		t.Errorf("toxics after a stopped drill = %v, want none", got)
	}
}

// A proxy that refuses the toxic is reported, and the others are still
// broken and repaired.
func TestTargetReportsAFaultProxyThatFails(t *testing.T) {
	p, admin := chaosProxy(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"addr": "127.0.0.1:1", "upstream": "127.0.0.1:2", "accepted": 0}`))
			return
		}
		http.Error(w, `{"error": "no"}`, http.StatusInternalServerError)
	}))
	defer broken.Close()
	w := &toxicWatcher{p: p}
	srv := httptest.NewServer(w)
	defer srv.Close()
	rep, err := Run(t.Context(), Options{Target: srv.URL, FaultProxies: []string{admin, broken.URL}, Scenarios: []Scenario{Blackhole}, Rate: 50, Duration: 4 * time.Second, Warmup: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !w.seen.Load() {
		t.Error("the working proxy was never blackholed")
	}
	if got := p.Toxics(); len(got) != 0 {
		t.Errorf("toxics after the drill = %v, want none", got)
	}
	if errs := rep.Scenarios[0].Errors; len(errs) == 0 || !strings.Contains(errs[0], "inject") || !strings.Contains(errs[0], "500") {
		t.Errorf("errors = %q, want the failed injection with its status", errs)
	}
}

// A fault proxy that does not answer stops the drill before any load.
func TestTargetNeedsItsFaultProxies(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := Run(t.Context(), Options{Target: srv.URL, FaultProxies: []string{gone.URL}, Scenarios: []Scenario{Blackhole}, Rate: 50, Duration: 4 * time.Second, Warmup: -1})
	if !errors.Is(err, ErrFaultProxy) {
		t.Errorf("Run with an unreachable fault proxy = %v, want ErrFaultProxy", err)
	}
}
