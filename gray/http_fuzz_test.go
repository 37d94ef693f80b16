package gray_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/duohuo/duohuo/gray"
)

// fuzzAPIEndpoints are the endpoints of the gray admin API that decode a
// body, chosen by the fuzzer's second input.
var fuzzAPIEndpoints = []struct{ method, path string }{
	{"PUT", "/v1/gray/routes/shop"},
	{"POST", "/v1/gray/validate"},
	{"POST", "/v1/gray/routes/shop/dry-run"},
}

// apiCall sends one request straight to h and returns the status and body.
func apiCall(h http.Handler, method, path string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// FuzzPolicyAPI feeds arbitrary bodies to the endpoints of the gray admin
// API that decode one (PUT a policy, validate, dry-run) on a store with a
// live policy. The handler never panics and always answers JSON; it
// accepts only a body that is one JSON object; a refusal is a 400 with
// the reason and changes nothing; validate and PUT agree; a policy it
// applied reads back, and the policy read back applies again.
func FuzzPolicyAPI(f *testing.F) {
	for i := range fuzzAPIEndpoints {
		for _, body := range []string{
			fivePercent,
			`{}`,
			`{"rules": [{"subset": "v9"}]}`,
			`{"subsets": [{"name": "v2", "labels": {"version": "v2"}}], "weights": [{"subset": "v2", "weight": 3}, {"subset": "baseline", "weight": 1}], "mode": "strict", "salt": "s"}`,
			`{"request": {"headers": {"x-user-id": "alice"}, "source": "10.1.2.3"}}`,
			`{"request": {"cookies": {"uid": "u"}}, "policy": {"rules": [{"subset": "baseline", "user_hash": {"cookie": "uid", "percent": 12.34}}]}}`,
			`{"request": {"source": "nope"}, "policy": {}}`,
			`null`,
			`{} {}`,
			`{"rulez": []}`,
			`{"rules": [`,
		} {
			f.Add([]byte(body), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		ep := fuzzAPIEndpoints[int(which)%len(fuzzAPIEndpoints)]
		s := gray.NewStore(gray.StoreConfig{Now: fixedClock()})
		live, err := gray.ParsePolicy([]byte(fivePercent))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply("shop", live, 0, gray.Meta{Who: "seed"}); err != nil {
			t.Fatal(err)
		}
		h := gray.NewHandler(s, gray.HandlerConfig{Routes: func() []string { return []string{"shop"} }})
		_, before := apiCall(h, "GET", "/v1/gray/routes/shop", nil)

		code, answer := apiCall(h, ep.method, ep.path, body)
		if !json.Valid(answer) {
			t.Fatalf("%s %s %q = %d with a body that is not JSON: %q", ep.method, ep.path, body, code, answer)
		}
		_, after := apiCall(h, "GET", "/v1/gray/routes/shop", nil)
		switch code {
		case http.StatusBadRequest:
			var e gray.ErrorBody
			if err := json.Unmarshal(answer, &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s %q = 400 %s: want an error body with the reason", ep.method, ep.path, body, answer)
			}
			if !bytes.Equal(before, after) {
				t.Fatalf("%s %s %q was refused but changed the live policy:\n%s\nto\n%s", ep.method, ep.path, body, before, after)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("%s %s %q = %d %s, want 200 or 400", ep.method, ep.path, body, code, answer)
		}
		if trimmed := bytes.TrimSpace(body); !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("%s %s accepted %q, which is not one JSON object", ep.method, ep.path, body)
		}
		switch ep.path {
		case "/v1/gray/validate":
			// What validate accepts, PUT applies.
			if code, answer := apiCall(h, "PUT", "/v1/gray/routes/shop", body); code != http.StatusOK {
				t.Fatalf("validate accepted %q but PUT answers %d %s", body, code, answer)
			}
		case "/v1/gray/routes/shop":
			var got struct {
				Revision uint64          `json:"revision"`
				Policy   json.RawMessage `json:"policy"`
			}
			// 1: the live policy again, which is no change.
			if err := json.Unmarshal(after, &got); err != nil || (got.Revision != 1 && got.Revision != 2) {
				t.Fatalf("after PUT %q, GET = %s: want revision 1 or 2 (%v)", body, after, err)
			}
			// The policy as the API shows it is one the API takes back.
			if code, answer := apiCall(h, "POST", "/v1/gray/validate", got.Policy); code != http.StatusOK {
				t.Fatalf("PUT %q applied policy %s, which validate refuses: %d %s", body, got.Policy, code, answer)
			}
			// And the same policy: PUT again, it is no new revision.
			code, answer := apiCall(h, "PUT", "/v1/gray/routes/shop", got.Policy)
			var c gray.Change
			if code != http.StatusOK || json.Unmarshal(answer, &c) != nil || c.Revision != got.Revision {
				t.Fatalf("PUT %q applied policy %s; PUT of it again = %d %s, want 200 with revision %d still", body, got.Policy, code, answer, got.Revision)
			}
		}
	})
}
