package gray_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/gray"
)

type apiClient struct {
	t   *testing.T
	srv *httptest.Server
}

func newAPI(t *testing.T) (*gray.Store, apiClient) {
	s := gray.NewStore(gray.StoreConfig{Now: fixedClock()})
	srv := httptest.NewServer(gray.NewHandler(s, gray.HandlerConfig{}))
	t.Cleanup(srv.Close)
	return s, apiClient{t, srv}
}

// with returns c reporting to t (a subtest).
func (c apiClient) with(t *testing.T) apiClient { return apiClient{t, c.srv} }

// do sends method path body and decodes the JSON answer into out.
func (c apiClient) do(method, path, body string, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Duohuo-Who", "alice")
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

const fivePercent = `{
  "subsets": [{"name": "v2", "labels": {"version": "v2"}}],
  "rules": [
    {"name": "testers", "subset": "v2", "headers": [{"name": "x-tester", "exact": "yes"}]},
    {"name": "five-percent", "subset": "v2", "user_hash": {"header": "x-user-id", "percent": 5}}
  ]
}`

func TestHandlerApplyGetRollback(t *testing.T) {
	s, api := newAPI(t)
	var c gray.Change
	if code := api.do("PUT", "/v1/gray/routes/checkout?comment=release+42", fivePercent, &c); code != 200 {
		t.Fatalf("PUT = %d", code)
	}
	if c.Revision != 1 || c.Who != "alice" || c.Comment != "release 42" || c.Policy == nil {
		t.Errorf("PUT answer = %+v, want revision 1 by alice with the comment and policy", c)
	}
	if s.Router("checkout") == nil {
		t.Fatal("PUT did not make the policy live")
	}
	var got struct {
		Revision uint64      `json:"revision"`
		Subsets  []string    `json:"subsets"`
		Policy   gray.Policy `json:"policy"`
	}
	if code := api.do("GET", "/v1/gray/routes/checkout", "", &got); code != 200 || got.Revision != 1 || len(got.Policy.Rules) != 2 || strings.Join(got.Subsets, ",") != "v2,baseline" {
		t.Errorf("GET = %d %+v", code, got)
	}
	var list struct {
		Revision uint64 `json:"revision"`
		Routes   []struct {
			Route string `json:"route"`
		} `json:"routes"`
	}
	if code := api.do("GET", "/v1/gray/routes", "", &list); code != 200 || list.Revision != 1 || len(list.Routes) != 1 || list.Routes[0].Route != "checkout" {
		t.Errorf("GET routes = %d %+v", code, list)
	}
	if code := api.do("POST", "/v1/gray/routes/checkout/rollback", "", &c); code != 200 || c.Kind != "rollback" || c.Revision != 2 {
		t.Errorf("rollback = %d %+v", code, c)
	}
	if s.Router("checkout") != nil {
		t.Error("rollback of the first change left a policy")
	}
	if code := api.do("PUT", "/v1/gray/routes/checkout?expect=2", fivePercent, &c); code != 200 || c.Revision != 3 {
		t.Errorf("PUT with the live revision expected = %d %+v, want revision 3", code, c)
	}
	if code := api.do("DELETE", "/v1/gray/routes/checkout?expect=3", "", &c); code != 200 || c.Kind != "delete" || s.Router("checkout") != nil {
		t.Errorf("DELETE = %d %+v, want the policy removed", code, c)
	}
	var hist []gray.Change
	if code := api.do("GET", "/v1/gray/routes/checkout/history", "", &hist); code != 200 || len(hist) != 4 {
		t.Errorf("history = %d %+v", code, hist)
	}
	for range 2 { // undo the delete, then the second apply (the first was rolled back above)
		if code := api.do("POST", "/v1/gray/routes/checkout/rollback", "", &c); code != 200 {
			t.Fatalf("rollback = %d", code)
		}
	}
	var e gray.ErrorBody
	if code := api.do("POST", "/v1/gray/routes/checkout/rollback", "", &e); code != http.StatusConflict {
		t.Errorf("rollback with nothing before = %d %+v, want 409", code, e)
	}
}

func TestHandlerErrors(t *testing.T) {
	_, api := newAPI(t)
	tests := []struct {
		name, method, path, body string
		code                     int
		field                    string
	}{
		{"an invalid policy names the field", "PUT", "/v1/gray/routes/checkout", `{"rules": [{"subset": "v9"}]}`, 400, "rules[0].subset"},
		{"an oversized regex names rule and field", "PUT", "/v1/gray/routes/checkout", `{"rules": [{"subset": "baseline"}, {"subset": "baseline", "headers": [{"name": "x", "regex": "[a-z]{900}"}]}]}`, 400, "rules[1].headers[0].regex"},
		{"an unknown field is refused", "PUT", "/v1/gray/routes/checkout", `{"rulez": []}`, 400, ""},
		{"a malformed body is refused", "PUT", "/v1/gray/routes/checkout", `{"rules": [`, 400, ""},
		{"a null body is refused, not taken as an empty policy", "PUT", "/v1/gray/routes/checkout", `null`, 400, ""},
		{"a body that is not an object is refused", "POST", "/v1/gray/validate", `[]`, 400, ""},
		{"a stray bracket after the object is refused", "PUT", "/v1/gray/routes/checkout", `{}]`, 400, ""},
		{"a bad route name is refused", "PUT", "/v1/gray/routes/a%20b", `{}`, 400, ""},
		{"a non-numeric expect names the parameter", "PUT", "/v1/gray/routes/checkout?expect=x", `{}`, 400, "expect"},
		{"an unknown route is 404", "GET", "/v1/gray/routes/nowhere", "", 404, ""},
		{"deleting an unknown route is 404", "DELETE", "/v1/gray/routes/nowhere", "", 404, ""},
		{"a stale expect is 409", "PUT", "/v1/gray/routes/checkout?expect=7", `{}`, 409, ""},
		{"a dry run of an invalid candidate names the field under policy", "POST", "/v1/gray/routes/checkout/dry-run", `{"request": {}, "policy": {"mode": "x"}}`, 400, "policy.mode"},
		{"a dry run with a bad source names it", "POST", "/v1/gray/routes/checkout/dry-run", `{"request": {"source": "nope"}, "policy": {}}`, 400, "request.source"},
		{"validate names the field", "POST", "/v1/gray/validate", `{"weights": [{"subset": "x", "weight": 1}]}`, 400, "weights[0].subset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := api.with(t)
			var e gray.ErrorBody
			code := api.do(tt.method, tt.path, tt.body, &e)
			if code != tt.code || e.Error == "" {
				t.Fatalf("%s %s = %d %+v, want %d with an error", tt.method, tt.path, code, e, tt.code)
			}
			if tt.field != "" && (len(e.Fields) == 0 || e.Fields[0].Path != tt.field) {
				t.Errorf("%s %s fields = %+v, want first %q", tt.method, tt.path, e.Fields, tt.field)
			}
		})
	}
}

func TestHandlerBoundsTheBody(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	srv := httptest.NewServer(gray.NewHandler(s, gray.HandlerConfig{Prefix: "/gray/", MaxBody: 64}))
	t.Cleanup(srv.Close)
	api := apiClient{t, srv}
	var e gray.ErrorBody
	if code := api.do("PUT", "/gray/routes/checkout", fivePercent, &e); code != http.StatusBadRequest || !strings.Contains(e.Error, "too large") {
		t.Errorf("PUT of %d bytes with MaxBody 64 = %d %+v, want 400 naming the size", len(fivePercent), code, e)
	}
	if code := api.do("PUT", "/gray/routes/checkout", `{}`, nil); code != http.StatusOK || s.Router("checkout") == nil {
		t.Errorf("PUT under a custom prefix = %d, want 200", code)
	}
}

// With the gateway's routes known, a policy for a route that does not
// exist is refused, with the routes that do: a typo must not become a
// policy that no request will ever meet.
func TestHandlerRefusesAnUnknownRoute(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	srv := httptest.NewServer(gray.NewHandler(s, gray.HandlerConfig{Routes: func() []string { return []string{"orders", "checkout"} }}))
	t.Cleanup(srv.Close)
	api := apiClient{t, srv}
	var e gray.ErrorBody
	if code := api.do("PUT", "/v1/gray/routes/chekout", fivePercent, &e); code != http.StatusNotFound ||
		!strings.Contains(e.Error, "chekout") || strings.Join(e.Routes, ",") != "checkout,orders" {
		t.Errorf("PUT for an unknown route = %d %+v, want 404 naming it and listing checkout, orders", code, e)
	}
	if s.Router("chekout") != nil {
		t.Errorf("the refused policy was stored")
	}
	if code := api.do("PUT", "/v1/gray/routes/checkout", fivePercent, nil); code != http.StatusOK || s.Router("checkout") == nil {
		t.Errorf("PUT for a route that exists = %d, want 200", code)
	}
}

func TestHandlerDryRun(t *testing.T) {
	_, api := newAPI(t)
	if code := api.do("PUT", "/v1/gray/routes/checkout", fivePercent, nil); code != 200 {
		t.Fatalf("PUT = %d", code)
	}
	tests := []struct {
		name, body string
		subset     string
		reason     string
		rule       int
		fallback   string
	}{
		{"a tester goes to v2 by the first rule", `{"request": {"headers": {"X-Tester": "yes"}}}`, "v2", "rule", 0, "baseline"},
		{"a colored request goes to its lane", `{"request": {"color": "v2"}}`, "v2", "color", -1, "baseline"},
		{"an anonymous request goes to the baseline", `{"request": {"path": "/cart"}}`, "baseline", "baseline", -1, ""},
		{"a candidate policy is tried instead of the live one", `{"request": {}, "policy": {"subsets": [{"name": "v2", "labels": {"version": "v2"}}], "rules": [{"subset": "v2"}], "mode": "strict"}}`, "v2", "rule", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := api.with(t)
			var got gray.DryRunResponse
			if code := api.do("POST", "/v1/gray/routes/checkout/dry-run", tt.body, &got); code != 200 {
				t.Fatalf("dry-run = %d", code)
			}
			if got.Subset != tt.subset || got.Reason.String() != tt.reason || got.Rule != tt.rule || got.Fallback != tt.fallback {
				t.Errorf("dry-run = %+v, want %s by %s rule %d fallback %q", got, tt.subset, tt.reason, tt.rule, tt.fallback)
			}
		})
	}
	var got gray.DryRunResponse
	api.do("POST", "/v1/gray/routes/checkout/dry-run", `{"request": {"headers": {"x-user-id": "alice"}}}`, &got)
	if b, ok := got.Buckets[1]; !ok || b != gray.Bucket("", "alice") {
		t.Errorf("dry-run buckets = %v, want rule 1 → Bucket(alice) = %d", got.Buckets, gray.Bucket("", "alice"))
	}
}

func TestHandlerDryRunShowsTheWeightSplit(t *testing.T) {
	_, api := newAPI(t)
	body := `{"request": {}, "policy": {"subsets": [{"name": "v2", "labels": {"version": "v2"}}], "weights": [{"subset": "v2", "weight": 1}, {"subset": "baseline", "weight": 3}]}}`
	var got gray.DryRunResponse
	if code := api.do("POST", "/v1/gray/routes/x/dry-run", body, &got); code != 200 {
		t.Fatalf("dry-run = %d", code)
	}
	if got.Reason != gray.ByWeight || got.Split["v2"] != 25 || got.Split["baseline"] != 75 {
		t.Errorf("dry-run = %+v, want by weight with split v2 25, baseline 75", got)
	}
}

// ParsePolicy takes one JSON object and nothing after it.
func TestParsePolicyRefusesTrailingData(t *testing.T) {
	for _, in := range []string{`{} {}`, `{}]`, `{}}`, `{} x`} {
		if _, err := gray.ParsePolicy([]byte(in)); err == nil {
			t.Errorf("ParsePolicy(%q) = nil error, want trailing data refused", in)
		}
	}
	if _, err := gray.ParsePolicy([]byte("{}\n")); err != nil {
		t.Errorf("ParsePolicy(%q) = %v, want a final newline accepted", "{}\n", err)
	}
}

// A policy read back from the API is the one applied: putting it again is
// no new revision, even when the first PUT wrote empty lists the answer
// leaves out.
func TestHandlerPolicyReadBackIsNoChange(t *testing.T) {
	_, api := newAPI(t)
	var c gray.Change
	body := `{"subsets": [{"name": "v2", "labels": {"version": "v2"}}], "rules": [{"subset": "v2", "headers": [], "cookies": [], "query": [], "baggage": []}]}`
	if code := api.do("PUT", "/v1/gray/routes/checkout", body, &c); code != 200 || c.Revision != 1 {
		t.Fatalf("PUT = %d %+v, want revision 1", code, c)
	}
	var got struct {
		Policy json.RawMessage `json:"policy"`
	}
	if code := api.do("GET", "/v1/gray/routes/checkout", "", &got); code != 200 {
		t.Fatalf("GET = %d", code)
	}
	if code := api.do("PUT", "/v1/gray/routes/checkout", string(got.Policy), &c); code != 200 || c.Revision != 1 {
		t.Errorf("PUT of the policy read back (%s) = %d, revision %d; want 200 and revision 1 still", got.Policy, code, c.Revision)
	}
}
