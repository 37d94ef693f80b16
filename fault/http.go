package fault

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/duohuo/duohuo/internal/httpjson"
	"github.com/duohuo/duohuo/request"
)

// Handler returns net/http middleware that applies the filter's decision to
// each request before next sees it. Fault trigger headers from a peer
// that Options.TrustedPeer does not trust are removed first (next sees a
// copy of the request without them). Then it waits the delay (returning early,
// without calling next, if the client goes away), then either answers with
// the abort status, resets the connection, or calls next.
//
// An abort answer has the header x-duohuo-fault: abort and a short text
// body. A reset hijacks the connection and closes it with SO_LINGER 0 so
// the client sees a TCP RST; where the connection cannot be hijacked
// (HTTP/2) it panics with http.ErrAbortHandler, which makes net/http
// reset the stream.
func (f *Filter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasTriggers(r.Header) && !f.trusts(request.NewHTTP(r).RemoteAddr()) {
			r = withoutTriggers(r)
		}
		d := f.Decide(request.FromHTTP(r))
		if !d.Faulty() {
			next.ServeHTTP(w, r)
			return
		}
		defer d.Done()
		if d.Delay > 0 {
			t := time.NewTimer(d.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case d.Reset:
			resetConn(w)
		case d.Status != 0:
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set(HeaderInjected, "abort")
			w.WriteHeader(d.Status)
			io.WriteString(w, "fault filter abort\n")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// triggerHeaders are the request headers that ask for faults, in their
// canonical form.
var triggerHeaders = [...]string{
	http.CanonicalHeaderKey(HeaderDelay),
	http.CanonicalHeaderKey(HeaderDelayPercent),
	http.CanonicalHeaderKey(HeaderAbort),
	http.CanonicalHeaderKey(HeaderAbortPercent),
}

func hasTriggers(h http.Header) bool {
	for _, k := range triggerHeaders {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// withoutTriggers returns a shallow copy of r whose header map lacks the
// trigger headers; r is not modified.
func withoutTriggers(r *http.Request) *http.Request {
	r2 := *r
	r2.Header = r.Header.Clone()
	for _, k := range triggerHeaders {
		delete(r2.Header, k)
	}
	return &r2
}

func resetConn(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	// Unwrap TLS to reach the TCP socket.
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c.Close() // nothing more will be written; the TCP close below is what counts
		c = nc.NetConn()
	}
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// maxAdminBody bounds the request bodies the admin handler reads.
const maxAdminBody = 1 << 20

// AdminHandler returns the HTTP API that reads and changes the filter's
// table at run time, for the gateway's admin listener (mount it on both
// "/v1/faults" and "/v1/faults/"):
//
//	GET    /v1/faults         the Table as JSON
//	PUT    /v1/faults         replace the Table (body: Table JSON, see ParseTable)
//	                          for ?ttl= (default DefaultTTL, at most MaxTTL)
//	DELETE /v1/faults         remove every rule (fault injection off)
//	GET    /v1/faults/{name}  one Rule
//	PUT    /v1/faults/{name}  add or replace one Rule (body: Rule JSON; its name
//	                          may be left out, and must match {name} if given)
//	                          for ?ttl= (default DefaultTTL, at most MaxTTL)
//	POST   /v1/faults/revert  drop every run-time change
//	DELETE /v1/faults/{name}  remove one Rule
//
// Successful changes answer 200 with the resulting Table or Rule. Invalid
// input answers 400 with {"error": "…"} naming the place, and changes
// nothing. The handler does no authentication: the admin listener does.
func (f *Filter) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, f.view())
	})
	mux.HandleFunc("POST /v1/faults/revert", func(w http.ResponseWriter, r *http.Request) {
		f.Revert()
		httpjson.Write(w, http.StatusOK, f.view())
	})
	mux.HandleFunc("PUT /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		ttl, err := ttlParam(r)
		var t Table
		if err == nil {
			t, err = ParseTable(body)
		}
		if err == nil {
			err = f.ReplaceFor(t, ttl)
		}
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		httpjson.Write(w, http.StatusOK, f.Table())
	})
	mux.HandleFunc("DELETE /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		f.Replace(Table{})
		httpjson.Write(w, http.StatusOK, f.view())
	})
	mux.HandleFunc("GET /v1/faults/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		for _, rule := range f.Table().Rules {
			if rule.Name == name {
				httpjson.Write(w, http.StatusOK, rule)
				return
			}
		}
		httpjson.Error(w, http.StatusNotFound, fmt.Errorf("rule %q: %w", name, ErrNoRule))
	})
	mux.HandleFunc("PUT /v1/faults/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		ttl, err := ttlParam(r)
		var rule Rule
		if err == nil {
			err = decodeObject(body, &rule)
		}
		switch {
		case err != nil:
		case rule.Name == "":
			rule.Name = name
		case rule.Name != name:
			err = fmt.Errorf("%w: body names rule %q, path names %q", ErrInvalidSpec, rule.Name, name)
		}
		if err == nil {
			err = f.SetRuleFor(rule, ttl)
		}
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		httpjson.Write(w, http.StatusOK, rule)
	})
	mux.HandleFunc("DELETE /v1/faults/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := f.DeleteRule(name); err != nil {
			httpjson.Error(w, http.StatusNotFound, fmt.Errorf("rule %q: %w", name, err))
			return
		}
		httpjson.Write(w, http.StatusOK, f.view())
	})
	return mux
}

// tableView is the table in force as the admin API shows it, with which of
// its rules were set at run time and which of the file's were deleted:
// what a reload of the file keeps and what POST /v1/faults/revert undoes.
type tableView struct {
	Table
	SetAtRunTime     []string             `json:"set_at_run_time"`
	DeletedAtRunTime []string             `json:"deleted_at_run_time"`
	Expires          map[string]time.Time `json:"expires"` // the run-time rules' ends
}

// DefaultTTL is how long a rule set through the admin API lasts without a
// ttl parameter: a fault injected for a drill must not outlive it because
// someone forgot to remove it.
const DefaultTTL = time.Hour

// MaxTTL is the longest ttl the admin API accepts.
const MaxTTL = 24 * time.Hour

// ttlParam reads ?ttl= (a Go duration, 1s to MaxTTL), DefaultTTL when
// absent.
func ttlParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("ttl")
	if v == "" {
		return DefaultTTL, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second || d > MaxTTL {
		return 0, fmt.Errorf("%w: ttl %q: want a duration from 1s to %v, e.g. ttl=10m", ErrInvalidSpec, v, MaxTTL)
	}
	return d, nil
}

func (f *Filter) view() tableView {
	set, deleted := f.Changes()
	if set == nil {
		set = []string{}
	}
	if deleted == nil {
		deleted = []string{}
	}
	return tableView{Table: f.Table(), SetAtRunTime: set, DeletedAtRunTime: deleted, Expires: f.Expiries()}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		httpjson.Error(w, status, fmt.Errorf("read body: %w", err))
		return nil, false
	}
	return body, true
}
