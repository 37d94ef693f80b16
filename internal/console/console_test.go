package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/console"
	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/telemetry"
)

const (
	token = "write-token-1234"
	ro    = "read-token-5678"
)

// recorder is an admin API endpoint that remembers the Authorization of
// the requests that reach it.
type recorder struct {
	mu    sync.Mutex
	auths []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.auths = append(rc.auths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	rc.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok": true}`)
}

func (rc *recorder) last() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.auths) == 0 {
		return ""
	}
	return rc.auths[len(rc.auths)-1]
}

type env struct {
	base string
	con  *console.Console
	rec  *recorder
}

// start runs an admin server with the console mounted, on loopback.
func start(t *testing.T, tok, readOnly string, opts console.Options) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	a, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0", Token: tok, ReadOnlyToken: readOnly, Registry: reg, OwnAuth: console.OwnsAuth})
	if err != nil {
		t.Fatal(err)
	}
	opts.Admin, opts.Token, opts.ReadOnlyToken = a.Handler(), tok, readOnly
	if opts.Gatherer == nil {
		opts.Gatherer = reg
	}
	con, err := console.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	a.Handle("/v1/state", rec)
	con.Mount(a)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		con.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return &env{base: "http://" + a.Addr(), con: con, rec: rec}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func do(t *testing.T, c *http.Client, method, url string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

type sessionAnswer struct {
	Authenticated bool   `json:"authenticated"`
	TokenRequired bool   `json:"token_required"`
	Rights        string `json:"rights"`
	CSRF          string `json:"csrf"`
}

func login(t *testing.T, c *http.Client, base, tok string) (*http.Response, sessionAnswer) {
	t.Helper()
	resp, body := do(t, c, "POST", base+"/ui/api/login", map[string]string{"Content-Type": "application/json"}, `{"token": "`+tok+`"}`)
	var s sessionAnswer
	json.Unmarshal([]byte(body), &s)
	return resp, s
}

func TestPagesCarryTheSecurityHeaders(t *testing.T) {
	e := start(t, token, "", console.Options{})
	c := browser(t)
	for _, p := range []string{"/ui/", "/ui/js/app.js", "/ui/console.css", "/ui/api/session", "/ui/api/v1/state"} {
		resp, _ := do(t, c, "GET", e.base+p, nil, "")
		h := resp.Header
		if got := h.Get("Content-Security-Policy"); got != console.ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy = %q, want %q", p, got, console.ContentSecurityPolicy)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v lack nosniff, no-referrer or DENY", p, h)
		}
	}
	if resp, _ := do(t, c, "GET", e.base+"/ui/js/app.js", nil, ""); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET app.js = %d %q, want 200 and a JavaScript type (module scripts need one)", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := do(t, c, "GET", e.base+"/", nil, ""); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET / = %d to %q, want 302 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := do(t, c, "GET", e.base+"/v1/state", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/state without the token = %d, want 401: the console opens no other path", resp.StatusCode)
	}
}

func TestLoginSessionAndCSRF(t *testing.T) {
	e := start(t, token, ro, console.Options{})
	c := browser(t)
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", nil, ""); resp.StatusCode != 401 {
		t.Fatalf("API before login = %d, want 401", resp.StatusCode)
	}
	if resp, _ := login(t, c, e.base, "wrong"); resp.StatusCode != 401 {
		t.Fatalf("login with a wrong token = %d, want 401", resp.StatusCode)
	}
	resp, s := login(t, c, e.base, token)
	if resp.StatusCode != 200 || s.Rights != "write" || len(s.CSRF) < 40 {
		t.Fatalf("login = %d %+v, want 200, write rights and a CSRF token", resp.StatusCode, s)
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == console.CookieName {
			ck = k
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui/" || ck.Secure || ck.MaxAge <= 0 {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui/, not Secure over plain HTTP, with a Max-Age", ck)
	}
	if strings.Contains(ck.Value, token) {
		t.Fatalf("the cookie carries the token")
	}
	csrf := map[string]string{console.HeaderCSRF: s.CSRF, "Content-Type": "application/json"}
	tests := []struct {
		name     string
		method   string
		header   map[string]string
		wantCode int
		wantAuth string // what the admin API received; "" when it was not reached
	}{
		{"a read with the cookie", "GET", nil, 200, "GET /v1/state Bearer " + token},
		{"a change without the CSRF token", "POST", map[string]string{"Content-Type": "application/json"}, 403, ""},
		{"a change with a wrong CSRF token", "POST", map[string]string{console.HeaderCSRF: "x" + s.CSRF[1:]}, 403, ""},
		{"a change with the CSRF token", "PUT", csrf, 200, "PUT /v1/state Bearer " + token},
		{"a cross-site change with the cookie and the CSRF token", "POST",
			map[string]string{console.HeaderCSRF: s.CSRF, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.rec.last()
			resp, body := do(t, c, tc.method, e.base+"/ui/api/v1/state", tc.header, "{}")
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("%s /ui/api/v1/state = %d %s, want %d", tc.method, resp.StatusCode, body, tc.wantCode)
			}
			got := e.rec.last()
			if tc.wantAuth == "" && got != before || tc.wantAuth != "" && got != tc.wantAuth {
				t.Errorf("admin API received %q, want %q", got, tc.wantAuth)
			}
		})
	}
	// Logout needs the CSRF token too, and ends the session.
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/logout", nil, ""); resp.StatusCode != 403 {
		t.Errorf("logout without CSRF = %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/logout", csrf, ""); resp.StatusCode != 200 {
		t.Errorf("logout = %d, want 200", resp.StatusCode)
	}
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", nil, ""); resp.StatusCode != 401 {
		t.Errorf("API after logout = %d, want 401", resp.StatusCode)
	}
}

func TestReadOnlyTokenReadsButDoesNotChange(t *testing.T) {
	e := start(t, token, ro, console.Options{})
	c := browser(t)
	_, s := login(t, c, e.base, ro)
	if s.Rights != "read" {
		t.Fatalf("login with the read-only token: rights %q, want read", s.Rights)
	}
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", nil, ""); resp.StatusCode != 200 || e.rec.last() != "GET /v1/state Bearer "+ro {
		t.Errorf("read = %d, admin API received %q; want 200 with the read-only token", resp.StatusCode, e.rec.last())
	}
	if resp, body := do(t, c, "POST", e.base+"/ui/api/v1/state", map[string]string{console.HeaderCSRF: s.CSRF}, "{}"); resp.StatusCode != 403 || !strings.Contains(body, "read-only") {
		t.Errorf("change = %d %s, want 403 naming the read-only token", resp.StatusCode, body)
	}
}

func TestBearerTokenNeedsNoSession(t *testing.T) {
	e := start(t, token, "", console.Options{})
	c := browser(t)
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/v1/state", map[string]string{"Authorization": "Bearer " + token}, "{}"); resp.StatusCode != 200 {
		t.Errorf("change with the bearer token = %d, want 200", resp.StatusCode)
	}
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", map[string]string{"Authorization": "Bearer nope"}, ""); resp.StatusCode != 401 {
		t.Errorf("read with a wrong bearer token = %d, want 401", resp.StatusCode)
	}
}

func TestWithoutTokenNoLoginButCSRF(t *testing.T) {
	e := start(t, "", "", console.Options{})
	c := browser(t)
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", nil, ""); resp.StatusCode != 200 {
		t.Errorf("read without a session = %d, want 200 (loopback admin without a token)", resp.StatusCode)
	}
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/v1/state", map[string]string{"Content-Type": "application/json"}, "{}"); resp.StatusCode != 403 {
		t.Errorf("change without a session = %d, want 403", resp.StatusCode)
	}
	_, body := do(t, c, "GET", e.base+"/ui/api/session", nil, "")
	var s sessionAnswer
	json.Unmarshal([]byte(body), &s)
	if !s.Authenticated || s.TokenRequired || s.CSRF == "" {
		t.Fatalf("session = %s, want an open session without a token", body)
	}
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/v1/state", map[string]string{"Content-Type": "application/json"}, "{}"); resp.StatusCode != 403 {
		t.Errorf("change with the session, without CSRF = %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/v1/state", map[string]string{console.HeaderCSRF: s.CSRF, "Content-Type": "application/json"}, "{}"); resp.StatusCode != 200 || e.rec.last() != "POST /v1/state " {
		t.Errorf("change with the session and CSRF = %d (admin API got %q), want 200 without a bearer token", resp.StatusCode, e.rec.last())
	}
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/v1/state", map[string]string{console.HeaderCSRF: s.CSRF, "Origin": "http://evil.example"}, "{}"); resp.StatusCode != 403 {
		t.Errorf("cross-site change = %d, want 403", resp.StatusCode)
	}
	if resp, _ := do(t, c, "GET", e.base+"/ui/", map[string]string{}, ""); resp.StatusCode != 200 {
		t.Errorf("GET /ui/ = %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", e.base+"/ui/", nil)
	req.Host = "rebound.example:80"
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("GET /ui/ with a foreign Host = %v %v, want 403 (DNS rebinding)", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestNewTokensEndSessions(t *testing.T) {
	e := start(t, token, "", console.Options{})
	c := browser(t)
	login(t, c, e.base, token)
	e.con.SetTokens(token, "")
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", nil, ""); resp.StatusCode != 200 {
		t.Errorf("after the same tokens again = %d, want 200", resp.StatusCode)
	}
	e.con.SetTokens("another-token-000", "")
	if resp, _ := do(t, c, "GET", e.base+"/ui/api/v1/state", nil, ""); resp.StatusCode != 401 {
		t.Errorf("after a new token = %d, want 401", resp.StatusCode)
	}
}

func TestLoginIsRateLimited(t *testing.T) {
	e := start(t, token, "", console.Options{})
	c := browser(t)
	var last int
	for range 11 {
		resp, _ := login(t, c, e.base, "guess")
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("11th wrong login = %d, want 429", last)
	}
	if resp, _ := do(t, c, "POST", e.base+"/ui/api/login", nil, "not json"); resp.StatusCode != 400 {
		t.Errorf("login with a bad body = %d, want 400", resp.StatusCode)
	}
}

func services() []gateway.ServiceStatus {
	mk := func(id, cloud, status string) gateway.InstanceStatus {
		return gateway.InstanceStatus{Instance: discovery.Instance{ID: id, Locality: discovery.Locality{Cloud: cloud, Region: cloud + "-1", Zone: cloud + "-1a"}},
			Status: status, Weight: 100, LatencyMs: 1.5, SuccessRate: 1, Breaker: "closed"}
	}
	return []gateway.ServiceStatus{{Name: "demo", Serving: "same_region", Tiers: []gateway.TierStatus{{Tier: "same_region", Healthy: 1, Total: 2}},
		Instances: []gateway.InstanceStatus{mk("a:1", "ctyun", "healthy"), mk("b:1", "ecloud", "unhealthy")}}}
}

// readEvent reads one server-sent event's data.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			return d
		}
	}
}

func TestEventStream(t *testing.T) {
	e := start(t, token, "", console.Options{Services: services, Interval: 20 * time.Millisecond, MaxClients: 1})
	c := browser(t)
	login(t, c, e.base, token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/ui/api/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	var snap console.Snapshot
	for range 2 { // the first snapshot at once, the next one an Interval later
		if err := json.Unmarshal([]byte(readEvent(t, br)), &snap); err != nil {
			t.Fatal(err)
		}
	}
	if len(snap.Services) != 1 || len(snap.Services[0].Inst) != 2 || snap.Services[0].Inst[1].Status != "unhealthy" || snap.Services[0].Inst[0].Cloud != "ctyun" {
		t.Errorf("snapshot services = %+v, want demo with a healthy ctyun and an unhealthy ecloud instance", snap.Services)
	}
	// The cap: a second page is refused while the first is open.
	if r2, _ := do(t, c, "GET", e.base+"/ui/api/events", nil, ""); r2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second stream = %d, want 503 over MaxClients", r2.StatusCode)
	}
	if n := e.con.Streams(); n != 1 {
		t.Errorf("Streams() = %d, want 1", n)
	}
	// Close ends the stream; the handler's goroutine returns (goleak).
	e.con.Close()
	for {
		if _, err := br.ReadString('\n'); err != nil {
			break
		}
	}
	if resp2, _ := do(t, browser(t), "GET", e.base+"/ui/api/events", nil, ""); resp2.StatusCode != 401 {
		t.Errorf("events without login = %d, want 401", resp2.StatusCode)
	}
}

func TestEventStreamEndsWhenTheClientGoes(t *testing.T) {
	e := start(t, "", "", console.Options{Interval: 10 * time.Millisecond})
	c := browser(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/ui/api/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readEvent(t, bufio.NewReader(resp.Body))
	cancel()
	resp.Body.Close()
	// The server notices at its next write, within an Interval or two.
	deadline := time.Now().Add(10 * time.Second)
	for e.con.Streams() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Streams() = %d 10s after the client left, want 0", e.con.Streams())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
