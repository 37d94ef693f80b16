package health_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/health"
)

// fastProbes probes every 10ms, without jitter, so that the default
// thresholds (3 failures, 2 successes) act within tens of milliseconds.
func fastProbes(p health.ProbeConfig) health.Config {
	if p.Interval == 0 {
		// The probe timeout is capped at the interval: 100ms leaves room
		// for an HTTP exchange on a loaded or emulated (qemu) machine.
		p.Interval = 100 * time.Millisecond
	}
	if p.Timeout == 0 {
		p.Timeout = 200 * time.Millisecond
	}
	p.Jitter = -1
	return health.Config{Probe: p}
}

func track(t *testing.T, cfg health.Config, addrs ...netip.AddrPort) *health.Tracker {
	t.Helper()
	tr, err := health.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	v := discovery.ServiceView{Service: "api"}
	for _, a := range addrs {
		v.Instances = append(v.Instances, discovery.Instance{ID: discovery.AddrID(a), Addr: a, Weight: 100})
	}
	tr.Update(v)
	return tr
}

// waitStatus waits, on change notices, until id has the status want, for at
// most 5s.
func waitStatus(t *testing.T, tr *health.Tracker, id string, want health.Status) health.State {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		if s, ok := tr.State(id); ok && s.Status == want {
			return s
		}
		select {
		case <-tr.Changes():
		case <-deadline.C:
			s, _ := tr.State(id)
			t.Fatalf("State(%q) = %+v after 5s, want status %v", id, s, want)
		}
	}
}

func addrOf(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func TestHTTPProbeFollowsTheStatus(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusOK)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	a := addrOf(t, srv.Listener.Addr())
	// The timeout is capped at the interval: leave room for a slow
	// machine (or qemu) so that the probe sees the 503, not its deadline.
	tr := track(t, fastProbes(health.ProbeConfig{Path: "/healthz", Interval: 250 * time.Millisecond}), a)
	id := a.String()

	waitStatus(t, tr, id, health.Healthy)
	code.Store(http.StatusServiceUnavailable)
	s := waitStatus(t, tr, id, health.Unhealthy)
	if s.Weight != 0 || !strings.Contains(s.Reason, "status 503") {
		t.Fatalf("unhealthy state %+v, want weight 0 and a reason naming status 503", s)
	}
	code.Store(http.StatusOK)
	waitStatus(t, tr, id, health.Healthy)
	if hits.Load() < 5 {
		t.Fatalf("server saw %d probes, want at least 3 failing and 2 passing", hits.Load())
	}
}

func TestHTTPProbeExpectations(t *testing.T) {
	for _, c := range []struct {
		name   string
		probe  health.ProbeConfig
		answer int
		want   health.Status
	}{
		{"2xx passes by default", health.ProbeConfig{Path: "/"}, http.StatusNoContent, health.Healthy},
		{"3xx fails by default and is not followed", health.ProbeConfig{Path: "/"}, http.StatusFound, health.Unhealthy},
		{"an expected status passes", health.ProbeConfig{Path: "/", ExpectStatus: 204}, http.StatusNoContent, health.Healthy},
		{"another 2xx than the expected one fails", health.ProbeConfig{Path: "/", ExpectStatus: 204}, http.StatusOK, health.Unhealthy},
		{"a status in the expected list passes", health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 200}, {302, 302}}}, http.StatusFound, health.Healthy},
		{"a status outside the expected list fails, 2xx or not", health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 200}, {302, 302}}}, http.StatusNoContent, health.Unhealthy},
		{"a status in an expected range passes", health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 299}, {400, 404}}}, http.StatusNotFound, health.Healthy},
		{"a status outside every expected range fails", health.ProbeConfig{Path: "/", ExpectStatuses: []health.StatusRange{{200, 299}, {400, 404}}}, http.StatusGone, health.Unhealthy},
		{"ExpectStatus and ExpectStatuses add up", health.ProbeConfig{Path: "/", ExpectStatus: 503, ExpectStatuses: []health.StatusRange{{200, 299}}}, http.StatusServiceUnavailable, health.Healthy},
		{"the Host header is sent", health.ProbeConfig{Path: "/", Host: "probe.example"}, 0, health.Healthy},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.answer == 0 { // answer 200 only to the configured Host
					if r.Host != c.probe.Host {
						w.WriteHeader(http.StatusMisdirectedRequest)
					}
					return
				}
				w.Header().Set("Location", "/elsewhere")
				w.WriteHeader(c.answer)
			}))
			defer srv.Close()
			a := addrOf(t, srv.Listener.Addr())
			tr := track(t, fastProbes(c.probe), a)
			// Unhealthy needs 3 probes; Healthy is the start state, so
			// wait for 5 probes' worth of change-free time by requiring the
			// wanted status to hold after a later, different instance's
			// probe has also been reported.
			waitStatus(t, tr, a.String(), c.want)
			if c.want == health.Healthy {
				assertStaysHealthy(t, tr, a.String(), 100*time.Millisecond)
			}
		})
	}
}

// assertStaysHealthy fails if id leaves Healthy within d (about ten
// probes at the fast interval).
func assertStaysHealthy(t *testing.T, tr *health.Tracker, id string, d time.Duration) {
	t.Helper()
	end := time.NewTimer(d)
	defer end.Stop()
	for {
		if s, _ := tr.State(id); s.Status != health.Healthy {
			t.Fatalf("State(%q) = %+v, want it to stay Healthy", id, s)
		}
		select {
		case <-tr.Changes():
		case <-end.C:
			return
		}
	}
}

func TestHTTPProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	a := addrOf(t, srv.Listener.Addr())
	tr := track(t, fastProbes(health.ProbeConfig{Path: "/", Timeout: 20 * time.Millisecond}), a)
	s := waitStatus(t, tr, a.String(), health.Unhealthy)
	if !strings.Contains(s.Reason, "deadline exceeded") {
		t.Fatalf("reason %q, want a deadline", s.Reason)
	}
}

func TestTCPProbeFollowsTheListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accept := func(ln net.Listener) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return done
	}
	done := accept(ln)
	a := addrOf(t, ln.Addr())
	tr := track(t, fastProbes(health.ProbeConfig{}), a)
	assertStaysHealthy(t, tr, a.String(), 50*time.Millisecond)

	ln.Close()
	<-done
	s := waitStatus(t, tr, a.String(), health.Unhealthy)
	if !strings.Contains(s.Reason, "refused") {
		t.Fatalf("reason %q, want connection refused", s.Reason)
	}

	ln, err = net.Listen("tcp", a.String())
	if err != nil {
		t.Fatalf("listen again on %v: %v", a, err)
	}
	done = accept(ln)
	defer func() { ln.Close(); <-done }()
	waitStatus(t, tr, a.String(), health.Healthy)
}

func TestProbesStopForRemovedInstances(t *testing.T) {
	probed := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case probed <- struct{}{}:
		default:
		}
	}))
	defer srv.Close()
	a := addrOf(t, srv.Listener.Addr())
	tr := track(t, fastProbes(health.ProbeConfig{Path: "/"}), a)
	select {
	case <-probed:
	case <-time.After(5 * time.Second):
		t.Fatal("no probe within 5s")
	}
	tr.Update(discovery.ServiceView{Service: "api"})
	if n := len(tr.Snapshot()); n != 0 {
		t.Fatalf("Snapshot after removal has %d states, want 0", n)
	}
	// goleak in TestMain checks that the probe goroutine ended after Close.
}

func TestProbesKeepTheirInterval(t *testing.T) {
	const interval = 30 * time.Millisecond
	arrivals := make(chan time.Time, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrivals <- time.Now():
		default:
		}
	}))
	defer srv.Close()
	a := addrOf(t, srv.Listener.Addr())
	track(t, health.Config{Probe: health.ProbeConfig{Path: "/", Interval: interval, Jitter: 10 * time.Millisecond}}, a)
	var prev time.Time
	for i := range 5 {
		select {
		case at := <-arrivals:
			// The next probe is scheduled Interval + jitter after the
			// previous one finished, so probes never come closer.
			if i > 0 && at.Sub(prev) < interval {
				t.Fatalf("probes %d and %d came %v apart, want at least the %v interval", i, i+1, at.Sub(prev), interval)
			}
			prev = at
		case <-time.After(5 * time.Second):
			t.Fatalf("probe %d did not come within 5s", i+1)
		}
	}
}

// TestTCPProbeIgnoresTLS: a TCP probe only connects, with or without TLS
// set for the service's HTTP and gRPC probes, so a plain listener passes.
func TestTCPProbeIgnoresTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := addrOf(t, ln.Addr())
	accepted := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	defer func() { ln.Close(); <-done }()
	tr := track(t, fastProbes(health.ProbeConfig{TLS: &tls.Config{}}), a)
	for range 4 { // more probes than UnhealthyThreshold
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("no probe connected within 5s")
		}
	}
	// The fourth connect was accepted: the first three probes' results are in.
	if s, _ := tr.State(a.String()); s.Status != health.Healthy {
		t.Fatalf("State = %+v, want Healthy", s)
	}
}
