package fault_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/fault"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

func filterWith(t *testing.T, spec string) *fault.Filter {
	t.Helper()
	f := fault.New(fault.Options{})
	if err := f.Update(fault.Table{Rules: []fault.Rule{{Name: "r", PathPrefix: "/f", Spec: mustSpec(t, spec)}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestHandlerDelaysThenPassesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := filterWith(t, "delay=250ms")
		h := f.Handler(okHandler)
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/f", nil))
		if got := time.Since(start); got != 250*time.Millisecond {
			t.Errorf("delayed request took %v, want exactly 250ms", got)
		}
		if rec.Code != 200 || rec.Body.String() != "ok" {
			t.Errorf("response %d %q, want 200 from next", rec.Code, rec.Body)
		}
		if s := f.Stats(); s.Delays != 1 || s.Active != 0 {
			t.Errorf("Stats() = %+v, want 1 delay and nothing active", s)
		}
	})
}

func TestHandlerStopsWaitingWhenClientLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := filterWith(t, "delay=1h")
		called := false
		h := f.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/f", nil).WithContext(ctx))
		if got := time.Since(start); got != time.Second {
			t.Errorf("handler returned after %v, want when the client left (1s)", got)
		}
		if called {
			t.Error("next was called for a request whose client left during the delay")
		}
		if a := f.Stats().Active; a != 0 {
			t.Errorf("Active = %d after the request ended, want 0", a)
		}
	})
}

func TestHandlerOverRealServer(t *testing.T) {
	tests := []struct {
		name       string
		spec       string
		path       string
		wantStatus int
		wantBody   string
		wantReset  bool
	}{
		{"abort answers with the status and marks it", "abort=503", "/f", 503, "fault filter abort\n", false},
		{"routes without a rule are untouched", "abort=503", "/other", 200, "ok", false},
		{"reset closes the connection with RST", "abort=reset", "/f", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(filterWith(t, tt.spec).Handler(okHandler))
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + tt.path)
			if tt.wantReset {
				if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
					t.Fatalf("GET = %v, want a connection reset", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if injected := resp.Header.Get(fault.HeaderInjected); (tt.wantStatus != 200) != (injected == "abort") {
				t.Errorf("%s header = %q on a %d", fault.HeaderInjected, injected, resp.StatusCode)
			}
		})
	}
}

func TestAdminAPI(t *testing.T) {
	f := fault.New(fault.Options{})
	srv := httptest.NewServer(f.AdminHandler())
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name       string
		method     string
		path, body string
		wantStatus int
		wantIn     string
	}{
		{"empty table to start", "GET", "/v1/faults", "", 200, `"rules": []`},
		{"replace the table", "PUT", "/v1/faults",
			`{"rules": [{"name": "slow", "path_prefix": "/checkout", "spec": "delay=200ms@10%"}]}`, 200, `"duration": "200ms"`},
		{"invalid table is refused with the place", "PUT", "/v1/faults",
			`{"rules": [{"name": "bad", "spec": "abort=99"}]}`, 400, `status 99`},
		{"unknown field is refused", "PUT", "/v1/faults", `{"rulez": []}`, 400, `rulez`},
		{"null does not empty the table", "PUT", "/v1/faults", `null`, 400, `want a JSON object`},
		{"a stray bracket is refused", "PUT", "/v1/faults", `{"rules": []}]`, 400, `trailing`},
		{"the refused table changed nothing", "GET", "/v1/faults/slow", "", 200, `"path_prefix": "/checkout"`},
		{"add one rule by name", "PUT", "/v1/faults/flaky",
			`{"host": "api.example.com", "spec": {"abort": {"status": 503, "percent": 5}}}`, 200, `"name": "flaky"`},
		{"rule body naming another rule is refused", "PUT", "/v1/faults/flaky",
			`{"name": "other", "spec": "abort=503"}`, 400, `path names \"flaky\"`},
		{"list shows both", "GET", "/v1/faults", "", 200, `"flaky"`},
		{"delete one", "DELETE", "/v1/faults/slow", "", 200, `"flaky"`},
		{"deleted rule is gone", "GET", "/v1/faults/slow", "", 404, `no such fault rule`},
		{"deleting twice is not found", "DELETE", "/v1/faults/slow", "", 404, `no such fault rule`},
		{"body over 1 MiB is refused", "PUT", "/v1/faults", strings.Repeat(" ", 1<<20+1), 413, `too large`},
		{"delete all", "DELETE", "/v1/faults", "", 200, `"rules": []`},
		{"other methods are not allowed", "POST", "/v1/faults", "{}", 405, ``},
	}
	for _, s := range steps {
		status, body := do(s.method, s.path, s.body)
		if status != s.wantStatus || !strings.Contains(body, s.wantIn) {
			t.Errorf("%s: %s %s = %d %s; want %d containing %q", s.name, s.method, s.path, status, body, s.wantStatus, s.wantIn)
		}
	}
	if n := len(f.Table().Rules); n != 0 {
		t.Errorf("%d rules left after DELETE /v1/faults, want 0", n)
	}
}

// TestHandlerRemovesTriggersFromUntrustedPeers: a peer outside
// TrustedPeer can neither fault this hop nor, through it, the next one
// (which trusts this hop and would obey the headers).
func TestHandlerRemovesTriggersFromUntrustedPeers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		trusted    func(netip.Addr) bool
		wantStatus int
		wantSeen   string // the trigger header as next saw it
	}{
		{"untrusted: ignored and removed", netip.MustParsePrefix("10.0.0.0/8").Contains, 200, ""},
		{"no TrustedPeer: ignored and removed", nil, 200, ""},
		{"trusted: obeyed", netip.Addr.IsLoopback, 503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fault.New(fault.Options{TrustedPeer: tc.trusted})
			if err := f.Update(fault.Table{Rules: []fault.Rule{{Name: "r", PathPrefix: "/f", Spec: mustSpec(t, "abort=503,header")}}}); err != nil {
				t.Fatal(err)
			}
			seen := make(chan string, 2)
			srv := httptest.NewServer(f.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen <- r.Header.Get(fault.HeaderAbort) + r.Header.Get(fault.HeaderDelay)
			})))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL+"/f", nil)
			req.Header.Set(fault.HeaderAbort, "503")
			req.Header.Set(fault.HeaderDelay, "10")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				if got := <-seen; got != tc.wantSeen {
					t.Errorf("next saw trigger headers %q, want none", got)
				}
			}
		})
	}
}
