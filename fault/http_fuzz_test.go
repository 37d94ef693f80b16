package fault_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/duohuo/duohuo/fault"
)

// adminCall sends one request straight to h and returns the status and
// body.
func adminCall(h http.Handler, method, path string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// FuzzFaultsAPI feeds arbitrary bodies to the two endpoints of the faults
// admin API that decode one: PUT /v1/faults (a table) and PUT
// /v1/faults/{name} (a rule), on a filter that already has a rule. The
// handler never panics and always answers JSON; it accepts only a body
// that is one JSON object; a refusal is a 400 (413 if too large) with the
// reason and changes nothing; what it accepted reads back, and the table
// read back is taken again unchanged.
func FuzzFaultsAPI(f *testing.F) {
	for _, one := range []bool{false, true} {
		for _, body := range []string{
			`{"rules": []}`,
			`{"max_active": 3, "rules": [{"name": "a", "host": "x.com", "path_prefix": "/p", "methods": ["GET"], "spec": "delay=1s@5%,abort=reset,header"}]}`,
			`{"rules": [{"name": "b", "spec": {"delay": {"duration": "20ms", "percent": 1}, "abort": {"status": 503}}}]}`,
			`{"rules": [{"name": "a", "spec": "delay=1s"}, {"name": "a", "spec": "delay=2s"}]}`,
			`{"path_prefix": "/checkout", "spec": "delay=200ms@10%"}`,
			`{"name": "r1", "spec": "abort=503@50%"}`,
			`{"name": "other", "spec": "abort=503"}`,
			`{"spec": {"abort": {"reset": true}}}`,
			`{"rules": []}]`,
			`null`,
			`{"rulez": []}`,
		} {
			f.Add([]byte(body), one)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, one bool) {
		flt := fault.New(fault.Options{})
		seed, err := fault.ParseTable([]byte(`{"max_active": 2, "rules": [{"name": "base", "path_prefix": "/slow", "spec": "delay=1s@5%"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := flt.Update(seed); err != nil {
			t.Fatal(err)
		}
		h := flt.AdminHandler()
		path := "/v1/faults"
		if one {
			path = "/v1/faults/r1"
		}
		before := flt.Table()

		code, answer := adminCall(h, "PUT", path, body)
		if !json.Valid(answer) {
			t.Fatalf("PUT %s %q = %d with a body that is not JSON: %q", path, body, code, answer)
		}
		switch code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct{ Error string }
			if err := json.Unmarshal(answer, &e); err != nil || e.Error == "" {
				t.Fatalf("PUT %s %q = %d %s: want an error body with the reason", path, body, code, answer)
			}
			if diff := cmp.Diff(before, flt.Table(), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("PUT %s %q was refused but changed the table (-before +after):\n%s", path, body, diff)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("PUT %s %q = %d %s, want 200, 400 or 413", path, body, code, answer)
		}
		if trimmed := bytes.TrimSpace(body); !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("PUT %s accepted %q, which is not one JSON object", path, body)
		}
		if one {
			code, got := adminCall(h, "GET", path, nil)
			var r fault.Rule
			if code != http.StatusOK || json.Unmarshal(got, &r) != nil || r.Name != "r1" {
				t.Fatalf("after PUT %s %q, GET = %d %s: want rule r1", path, body, code, got)
			}
			if len(flt.Table().Rules) != 2 {
				t.Fatalf("after PUT %s %q, the table has %d rules, want base and r1", path, body, len(flt.Table().Rules))
			}
		}
		// The table as the API shows it is one the API takes back as it is.
		_, shown := adminCall(h, "GET", "/v1/faults", nil)
		live := flt.Table()
		if code, answer := adminCall(h, "PUT", "/v1/faults", shown); code != http.StatusOK {
			t.Fatalf("after PUT %s %q, the table read back %s is refused: %d %s", path, body, shown, code, answer)
		}
		if diff := cmp.Diff(live, flt.Table(), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("after PUT %s %q, putting back the table read back changed it (-before +after):\n%s", path, body, diff)
		}
	})
}
