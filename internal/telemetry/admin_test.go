package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/telemetry"
)

// startAdmin starts an admin server on a free loopback port and stops it
// when the test ends.
func startAdmin(t *testing.T, opts telemetry.AdminOptions, mount func(*telemetry.Admin)) (*telemetry.Admin, string) {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	a, err := telemetry.NewAdmin(opts)
	if err != nil {
		t.Fatalf("NewAdmin(%+v): %v", opts, err)
	}
	if mount != nil {
		mount(a)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return a, "http://" + a.Addr()
}

// client returns an HTTP client whose idle connections are closed at the
// end of the test, so goleak sees no leftover goroutines.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestAdminEndpoints(t *testing.T) {
	var notReady atomic.Pointer[error]
	reg := telemetry.NewRegistry(kylinOnKunpeng())
	_, base := startAdmin(t, telemetry.AdminOptions{
		Registry: reg,
		Ready: func() error {
			if e := notReady.Load(); e != nil {
				return *e
			}
			return nil
		},
	}, func(a *telemetry.Admin) {
		a.Handle("GET /v1/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "pong") }))
	})
	c := client(t)

	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, `duohuo_platform_info{arch="arm64",cpu_vendor="hisilicon",os="kylin-server",os_version="V10"} 1`},
		{"/metrics", 200, "go_goroutines"},
		{"/debug/pprof/", 200, "goroutine"},
		{"/debug/pprof/cmdline", 200, ""},
		{"/v1/ping", 200, "pong"},
		{"/nope", 404, ""},
	}
	for _, tc := range tests {
		code, body := get(t, c, base+tc.path, "")
		if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
			t.Errorf("GET %s = %d %.80q; want %d containing %q", tc.path, code, body, tc.wantCode, tc.wantBody)
		}
	}

	e := errors.New("config not loaded")
	notReady.Store(&e)
	if code, body := get(t, c, base+"/readyz", ""); code != 503 || !strings.Contains(body, "config not loaded") {
		t.Errorf("GET /readyz while not ready = %d %q; want 503 naming the cause", code, body)
	}
	if code, _ := get(t, c, base+"/healthz", ""); code != 200 {
		t.Errorf("GET /healthz while not ready = %d; want 200 (liveness does not depend on readiness)", code)
	}
}

func TestAdminTokenProtectsAllButProbes(t *testing.T) {
	const token = "s3cret-token"
	_, base := startAdmin(t, telemetry.AdminOptions{Token: token}, func(a *telemetry.Admin) {
		a.Handle("/v1/state", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "state") }))
	})
	c := client(t)
	tests := []struct {
		name, path, auth string
		wantCode         int
	}{
		{"liveness needs no token", "/healthz", "", 200},
		{"readiness needs no token", "/readyz", "", 200},
		{"metrics without a token", "/metrics", "", 401},
		{"pprof without a token", "/debug/pprof/", "", 401},
		{"API without a token", "/v1/state", "", 401},
		{"wrong token", "/v1/state", "Bearer nope", 401},
		{"token as a prefix of the right one", "/v1/state", "Bearer s3cret", 401},
		{"right token with the wrong scheme", "/v1/state", "Basic " + token, 401},
		{"right token", "/v1/state", "Bearer " + token, 200},
		{"scheme is case-insensitive", "/metrics", "bearer " + token, 200},
		{"unknown path with the right token", "/nope", "Bearer " + token, 404},
		{"unknown path without a token does not reveal it", "/nope", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := get(t, c, base+tc.path, tc.auth)
			if code != tc.wantCode {
				t.Errorf("GET %s (Authorization %q) = %d, want %d", tc.path, tc.auth, code, tc.wantCode)
			}
		})
	}
}

func TestNewAdminAddresses(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		token   string
		wantErr error // nil: accepted
	}{
		{"default address is loopback", "", "", nil},
		{"IPv4 loopback", "127.0.0.1:9900", "", nil},
		{"other 127/8 address", "127.0.0.2:9900", "", nil},
		{"IPv6 loopback", "[::1]:9900", "", nil},
		{"localhost", "localhost:9900", "", nil},
		{"all interfaces without a token", ":9900", "", telemetry.ErrInsecureBind},
		{"0.0.0.0 without a token", "0.0.0.0:9900", "", telemetry.ErrInsecureBind},
		{"[::] without a token", "[::]:9900", "", telemetry.ErrInsecureBind},
		{"public address without a token", "10.0.0.5:9900", "", telemetry.ErrInsecureBind},
		{"host name without a token is not trusted", "admin.example.com:9900", "", telemetry.ErrInsecureBind},
		{"all interfaces with a token", "0.0.0.0:9900", "t", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: tc.addr, Token: tc.token})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("NewAdmin(Addr %q, token %v) error = %v, want %v", tc.addr, tc.token != "", err, tc.wantErr)
			}
		})
	}
	if _, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "no-port"}); err == nil {
		t.Errorf("NewAdmin(Addr %q) = nil error, want a host:port error", "no-port")
	}
}

func TestAdminStartReportsBindErrors(t *testing.T) {
	a, _ := startAdmin(t, telemetry.AdminOptions{}, nil)
	b, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: a.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("Start on a taken port (%s) error = %v, want EADDRINUSE", a.Addr(), err)
	}
	if err := a.Start(t.Context()); !errors.Is(err, telemetry.ErrStarted) {
		t.Errorf("second Start error = %v, want ErrStarted", err)
	}
}

func TestAdminAddrBeforeStartIsEmpty(t *testing.T) {
	a, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Addr(); got != "" {
		t.Errorf("Addr() before Start = %q, want empty", got)
	}
	if err := a.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown before Start = %v, want nil", err)
	}
}

func TestAdminShutdownDrainsInFlightRequests(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	a, base := startAdmin(t, telemetry.AdminOptions{}, func(a *telemetry.Admin) {
		a.Handle("/v1/slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			<-release
			io.WriteString(w, "finished")
		}))
	})
	c := client(t)
	type result struct {
		code int
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() { // no t.Fatal here: it must run on the test goroutine
		resp, err := c.Get(base + "/v1/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(body), err}
	}()
	<-entered

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- a.Shutdown(context.Background()) }()
	// Shutdown must wait for the in-flight request: it cannot return while
	// the handler is blocked. Meanwhile the listener is closed, so a new
	// connection is refused once Shutdown has begun.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", a.Addr(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 5s after Shutdown began")
		}
		select {
		case err := <-shutdownDone:
			t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
		case <-time.After(10 * time.Millisecond): // poll interval, not a wait for a condition
		}
	}
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	if r := <-got; r.err != nil || r.code != 200 || r.body != "finished" {
		t.Errorf("in-flight request = %d %q (err %v), want 200 \"finished\"", r.code, r.body, r.err)
	}
	if err := <-shutdownDone; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
}

func TestAdminShutdownHonoursItsDeadline(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	a, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	a.Handle("/v1/stuck", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}))
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := client(t)
	reqDone := make(chan struct{})
	go func() {
		defer close(reqDone)
		resp, err := c.Get("http://" + a.Addr() + "/v1/stuck")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already expired: Shutdown must give up on draining at once
	if err := a.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(expired ctx) = %v, want context.Canceled", err)
	}
	release <- struct{}{} // let the handler goroutine end (net/http owns it)
	<-reqDone
}
