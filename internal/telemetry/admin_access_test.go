package telemetry_test

import (
	"bufio"
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

// send makes one request with the given Host (empty: the URL's) and
// headers, and returns the status and body.
func send(t *testing.T, c *http.Client, method, url, host string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// mountState mounts a handler on /v1/state that counts the requests that
// reach it.
func mountState(calls *atomic.Int64) func(*telemetry.Admin) {
	return func(a *telemetry.Admin) {
		a.Handle("/v1/state", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			calls.Add(1)
			io.WriteString(w, "state")
		}))
	}
}

// A web page open in a browser on the admin's machine must not be able to
// change the gateway (nor, through DNS rebinding, read it); programs such as
// curl and the duohuo CLI keep working.
func TestAdminWithoutTokenRefusesCrossSiteRequests(t *testing.T) {
	var calls atomic.Int64
	a, base := startAdmin(t, telemetry.AdminOptions{Hosts: []string{"Duohuo-Admin.internal"}}, mountState(&calls))
	_, port, _ := net.SplitHostPort(a.Addr())
	self := "http://" + a.Addr()
	c := client(t)
	tests := []struct {
		name         string
		method, path string
		host         string // "" is the listener's own address
		header       map[string]string
		wantCode     int
		wantMsg      string // in a 403's body
	}{
		// What browsers send for a page of another site.
		{"text/plain POST from another site", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, `from origin "http://evil.example" refused`},
		{"form POST from another site", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}, 403, "refused"},
		{"text/plain POST, cross-site by Sec-Fetch-Site only", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}, 403, "cross-site page refused"},
		{"POST from another port of localhost (same-site)", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403, "same-site page refused"},
		{"POST from a sandboxed page (Origin null)", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "application/json", "Origin": "null"}, 403, `origin "null"`},
		{"text/plain POST without any browser header", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "text/plain"}, 403, "needs the header X-Duohuo-Admin: 1 or a JSON body"},
		{"PUT without a body type", "PUT", "/v1/state", "", nil, 403, "X-Duohuo-Admin"},
		// DNS rebinding: the page's own name now points at 127.0.0.1.
		{"rebound PUT", "PUT", "/v1/state", "evil.example:" + port,
			map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example:" + port}, 403, `Host "evil.example:` + port + `" is not a name of this admin server`},
		{"rebound GET of data", "GET", "/v1/state", "evil.example:" + port, nil, 403, "DNS rebinding"},
		{"rebound GET of metrics", "GET", "/metrics", "evil.example", nil, 403, "DNS rebinding"},
		{"rebound GET of pprof", "GET", "/debug/pprof/cmdline", "evil.example", nil, 403, "DNS rebinding"},
		{"a non-loopback address literal", "GET", "/v1/state", "10.1.2.3:" + port, nil, 403, "not a name"},
		// What programs and the admin's own pages send.
		{"probe under any Host", "GET", "/healthz", "evil.example", nil, 200, ""},
		{"GET by address", "GET", "/v1/state", "", nil, 200, ""},
		{"GET by localhost", "GET", "/v1/state", "localhost:" + port, nil, 200, ""},
		{"GET by localhost with a final dot", "GET", "/v1/state", "localhost.:" + port, nil, 200, ""},
		{"GET by IPv6 loopback", "GET", "/v1/state", "[::1]:" + port, nil, 200, ""},
		{"GET by a configured name, any case", "GET", "/v1/state", "duohuo-admin.INTERNAL:" + port, nil, 200, ""},
		{"POST with the admin header", "POST", "/v1/state", "", map[string]string{"X-Duohuo-Admin": "1", "Content-Type": "text/plain"}, 200, ""},
		{"DELETE with the admin header", "DELETE", "/v1/state", "", map[string]string{"X-Duohuo-Admin": "1"}, 200, ""},
		{"PUT with a JSON body", "PUT", "/v1/state", "", map[string]string{"Content-Type": "application/json; charset=utf-8"}, 200, ""},
		{"same-origin POST from the admin's own page", "POST", "/v1/state", "",
			map[string]string{"Content-Type": "application/json", "Origin": self, "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"POST typed by the user (Sec-Fetch-Site none)", "POST", "/v1/state", "",
			map[string]string{"X-Duohuo-Admin": "1", "Sec-Fetch-Site": "none"}, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			code, body := send(t, c, tc.method, base+tc.path, tc.host, tc.header, "{}")
			if code != tc.wantCode || !strings.Contains(body, tc.wantMsg) {
				t.Fatalf("%s %s (Host %q, %v) = %d %q; want %d containing %q", tc.method, tc.path, tc.host, tc.header, code, body, tc.wantCode, tc.wantMsg)
			}
			if reached := calls.Load() != before; code == 403 && reached {
				t.Errorf("%s %s was refused but reached the handler", tc.method, tc.path)
			}
		})
	}
}

// With a token, the token is what proves a program; a browser cannot send
// it across sites. The Host is not checked (proxies and DNS names work),
// the Origin of a change still is.
func TestAdminWithTokenChecks(t *testing.T) {
	const token = "s3cret-token"
	var calls atomic.Int64
	_, base := startAdmin(t, telemetry.AdminOptions{Token: token}, mountState(&calls))
	c := client(t)
	bearer := "Bearer " + token
	tests := []struct {
		name     string
		method   string
		host     string
		header   map[string]string
		wantCode int
	}{
		{"text/plain POST with the token", "POST", "", map[string]string{"Authorization": bearer, "Content-Type": "text/plain"}, 200},
		{"GET under a DNS name with the token", "GET", "admin.prod.example:9900", map[string]string{"Authorization": bearer}, 200},
		{"POST with the token from another origin", "POST", "", map[string]string{"Authorization": bearer, "Origin": "http://evil.example"}, 403},
		{"POST with the token, cross-site", "POST", "", map[string]string{"Authorization": bearer, "Sec-Fetch-Site": "cross-site"}, 403},
		{"text/plain POST from another site without the token", "POST", "", map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := send(t, c, tc.method, base+"/v1/state", tc.host, tc.header, ""); code != tc.wantCode {
				t.Errorf("%s /v1/state (Host %q, %v) = %d %q, want %d", tc.method, tc.host, tc.header, code, body, tc.wantCode)
			}
		})
	}
}

// A new token is in effect from the next request, on connections already
// open too, and the old one is refused.
func TestAdminPrepareCommitChangesToken(t *testing.T) {
	var calls atomic.Int64
	a, base := startAdmin(t, telemetry.AdminOptions{Token: "old-token"}, mountState(&calls))
	c := client(t) // keeps its connection open across the change
	auth := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	if code, _ := send(t, c, "GET", base+"/v1/state", "", auth("old-token"), ""); code != 200 {
		t.Fatalf("old token before the change: %d, want 200", code)
	}
	ch, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.1:0", Token: "new-token"})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if ch.Moves() {
		t.Errorf("Moves() = true for an unchanged address")
	}
	if code, _ := send(t, c, "GET", base+"/v1/state", "", auth("new-token"), ""); code != 401 {
		t.Errorf("new token before Commit: %d, want 401", code)
	}
	ch.Commit()
	if code, _ := send(t, c, "GET", base+"/v1/state", "", auth("old-token"), ""); code != 401 {
		t.Errorf("old token after Commit: %d, want 401", code)
	}
	if code, _ := send(t, c, "GET", base+"/v1/state", "", auth("new-token"), ""); code != 200 {
		t.Errorf("new token after Commit: %d, want 200", code)
	}
	// Dropping the token on loopback: the cross-site checks take over.
	ch, err = a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("Prepare without a token on loopback: %v", err)
	}
	ch.Commit()
	if code, _ := send(t, c, "GET", base+"/v1/state", "", nil, ""); code != 200 {
		t.Errorf("GET without a token after the token was removed: %d, want 200", code)
	}
	if code, _ := send(t, c, "POST", base+"/v1/state", "", map[string]string{"Content-Type": "text/plain"}, ""); code != 403 {
		t.Errorf("text/plain POST after the token was removed: %d, want 403", code)
	}
}

// A new address is bound before the old listener closes: a client that
// connects to the new address before Commit is served once Commit runs,
// and the old address serves until then.
func TestAdminPrepareCommitMovesListener(t *testing.T) {
	var calls atomic.Int64
	a, oldBase := startAdmin(t, telemetry.AdminOptions{}, mountState(&calls))
	oldAddr := a.Addr()
	ch, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.2:0"})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if !ch.Moves() {
		t.Fatalf("Moves() = false for a new address")
	}
	// The address the change bound: the listener is not in a.Addr() yet.
	if a.Addr() != oldAddr {
		t.Fatalf("Addr() = %s before Commit, want the old %s", a.Addr(), oldAddr)
	}
	c := client(t)
	if code, _ := send(t, c, "GET", oldBase+"/v1/state", "", nil, ""); code != 200 {
		t.Fatalf("old address before Commit: %d, want 200", code)
	}
	ch.Commit()
	newAddr := a.Addr()
	if newAddr == oldAddr || !strings.HasPrefix(newAddr, "127.0.0.2:") {
		t.Fatalf("Addr() after Commit = %s, want an address on 127.0.0.2", newAddr)
	}
	if code, _ := send(t, c, "GET", "http://"+newAddr+"/v1/state", "", nil, ""); code != 200 {
		t.Errorf("new address after Commit: %d, want 200", code)
	}
	if conn, err := net.DialTimeout("tcp", oldAddr, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("old address %s still accepts connections after Commit", oldAddr)
	}
}

// A connection made to the new address between Prepare and Commit waits in
// the listen backlog and is served after Commit: there is no moment when
// neither address accepts.
func TestAdminNewAddressAcceptsBeforeCommit(t *testing.T) {
	var calls atomic.Int64
	a, _ := startAdmin(t, telemetry.AdminOptions{}, mountState(&calls))
	ch, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.2:0"})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	newAddr := ch.Addr()
	conn, err := net.DialTimeout("tcp", newAddr, 5*time.Second)
	if err != nil {
		ch.Abort()
		t.Fatalf("dial the prepared address %s: %v", newAddr, err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v1/state HTTP/1.1\r\nHost: "+newAddr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	ch.Commit()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("request sent before Commit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("request sent before Commit = %d, want 200", resp.StatusCode)
	}
}

// A change that cannot be made leaves everything as it was.
func TestAdminPrepareRefusals(t *testing.T) {
	var calls atomic.Int64
	a, base := startAdmin(t, telemetry.AdminOptions{Token: "t1"}, mountState(&calls))
	other, _ := startAdmin(t, telemetry.AdminOptions{}, nil)
	tests := []struct {
		name    string
		access  telemetry.AdminAccess
		wantErr error
	}{
		{"taken address", telemetry.AdminAccess{Addr: other.Addr(), Token: "t2"}, syscall.EADDRINUSE},
		{"all interfaces without a token", telemetry.AdminAccess{Addr: "0.0.0.0:0"}, telemetry.ErrInsecureBind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := a.Prepare(t.Context(), tc.access)
			if !errors.Is(err, tc.wantErr) {
				if ch != nil {
					ch.Abort()
				}
				t.Fatalf("Prepare(%+v) error = %v, want %v", tc.access, err, tc.wantErr)
			}
		})
	}
	if _, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "no-port"}); err == nil {
		t.Errorf("Prepare(Addr %q) = nil error, want a host:port error", "no-port")
	}
	c := client(t)
	if code, _ := send(t, c, "GET", base+"/v1/state", "", map[string]string{"Authorization": "Bearer t1"}, ""); code != 200 {
		t.Errorf("after refused changes, the old token on the old address: %d, want 200", code)
	}
}

// Abort closes what Prepare bound; the old address and token stay.
func TestAdminPrepareAbort(t *testing.T) {
	var calls atomic.Int64
	a, base := startAdmin(t, telemetry.AdminOptions{}, mountState(&calls))
	ch, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.2:0", Token: "t"})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	newAddr := ch.Addr()
	ch.Abort()
	ch.Commit() // after Abort: nothing
	if conn, err := net.DialTimeout("tcp", newAddr, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("aborted address %s accepts connections", newAddr)
	}
	if code, _ := send(t, client(t), "GET", base+"/v1/state", "", nil, ""); code != 200 {
		t.Errorf("after Abort, the old address without a token: %d, want 200", code)
	}
}

func TestAdminPrepareNeedsAServingAdmin(t *testing.T) {
	a, err := telemetry.NewAdmin(telemetry.AdminOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.1:0"}); !errors.Is(err, telemetry.ErrNotStarted) {
		t.Errorf("Prepare before Start = %v, want ErrNotStarted", err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ch, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.2:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	newAddr := ch.Addr()
	ch.Commit() // after Shutdown: closes the prepared listener
	if conn, err := net.DialTimeout("tcp", newAddr, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("a change committed after Shutdown left %s accepting", newAddr)
	}
	if _, err := a.Prepare(t.Context(), telemetry.AdminAccess{Addr: "127.0.0.1:0"}); !errors.Is(err, telemetry.ErrNotStarted) {
		t.Errorf("Prepare after Shutdown = %v, want ErrNotStarted", err)
	}
}

// The read-only token reads everything the token reads and changes
// nothing; paths whose handler authenticates itself (the web console) are
// reached without a token but keep the cross-site checks.
func TestAdminReadOnlyTokenAndOwnAuth(t *testing.T) {
	const token, ro = "s3cret-token", "read-only-token"
	var calls atomic.Int64
	ownAuth := func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/ui/") }
	_, base := startAdmin(t, telemetry.AdminOptions{Token: token, ReadOnlyToken: ro, OwnAuth: ownAuth}, func(a *telemetry.Admin) {
		mountState(&calls)(a)
		a.Handle("/ui/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "console") }))
	})
	c := client(t)
	tests := []struct {
		name         string
		method, path string
		header       map[string]string
		wantCode     int
	}{
		{"GET with the read-only token", "GET", "/v1/state", map[string]string{"Authorization": "Bearer " + ro}, 200},
		{"GET /metrics with the read-only token", "GET", "/metrics", map[string]string{"Authorization": "Bearer " + ro}, 200},
		{"POST with the read-only token", "POST", "/v1/state", map[string]string{"Authorization": "Bearer " + ro, "Content-Type": "application/json"}, 403},
		{"POST with the token", "POST", "/v1/state", map[string]string{"Authorization": "Bearer " + token}, 200},
		{"GET with neither", "GET", "/v1/state", nil, 401},
		{"console page without a token", "GET", "/ui/", nil, 200},
		{"console POST from the console's own origin", "POST", "/ui/api/x", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"console POST from another site", "POST", "/ui/api/x", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"a path beside the console still needs the token", "GET", "/uix", nil, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := send(t, c, tc.method, base+tc.path, "", tc.header, "{}"); code != tc.wantCode {
				t.Errorf("%s %s (%v) = %d %q, want %d", tc.method, tc.path, tc.header, code, body, tc.wantCode)
			}
		})
	}
}

func TestAdminReadOnlyTokenNeedsAToken(t *testing.T) {
	for _, o := range []telemetry.AdminOptions{
		{Addr: "127.0.0.1:0", ReadOnlyToken: "ro"},
		{Addr: "127.0.0.1:0", Token: "same", ReadOnlyToken: "same"},
	} {
		if _, err := telemetry.NewAdmin(o); !errors.Is(err, telemetry.ErrReadOnlyToken) {
			t.Errorf("NewAdmin(token %q, read-only %q) = %v, want ErrReadOnlyToken", o.Token, o.ReadOnlyToken, err)
		}
	}
}
