package replica_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/replica"
)

func TestJSONStringRoundTrips(t *testing.T) {
	for _, b := range [][]byte{
		nil, []byte("plain"), []byte("\xff"), []byte("\xc3\x28"), []byte("base64:AAAA"), []byte("base64:"),
		[]byte("日本"), {0, 1, 2, 0xfe}, []byte("\ufffd"),
	} {
		s := replica.JSONString(b)
		got, err := replica.ParseJSONString(s)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("ParseJSONString(JSONString(%q)) = %q, %v; want %q", b, got, err, b)
		}
		if !json.Valid([]byte(`"`+strings.ReplaceAll(s, `"`, `\"`)+`"`)) || !strings.HasPrefix(s, replica.BinaryPrefix) && !bytes.Equal([]byte(s), b) {
			t.Errorf("JSONString(%q) = %q", b, s)
		}
	}
	if _, err := replica.ParseJSONString("base64:@@"); err == nil {
		t.Error(`ParseJSONString("base64:@@") = nil error, want one`)
	}
}

type kvServer struct {
	t   *testing.T
	srv *httptest.Server
}

func (k kvServer) do(method, path string, q url.Values, body []byte) (int, []byte) {
	k.t.Helper()
	u := k.srv.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	resp, err := k.srv.Client().Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (k kvServer) getJSON(object string, v any) {
	k.t.Helper()
	code, b := k.do("GET", "/v1/kv/"+url.PathEscape(object), nil, nil)
	if code != 200 {
		k.t.Fatalf("GET %q = %d %s", object, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		k.t.Fatalf("GET %q: %v in %s", object, err, b)
	}
}

func mustParse(t *testing.T, s string) []byte {
	t.Helper()
	b, err := replica.ParseJSONString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Keys, members, values and names that are not UTF-8, or that look like
// the encoded form, written through HTTP, read back as JSON and decoded,
// are the bytes written; and no two keys share a JSON name.
func TestJSONViewRoundTripsBinaryKeysAndValues(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	k := kvServer{t, httptest.NewServer(replica.Handler(s))}
	defer k.srv.Close()

	entries := map[string][]byte{
		"\xff":         []byte("first"),
		"\xc3\x28":     []byte("second"),
		"\ufffd":       []byte("the real U+FFFD"),
		"base64:/w==":  {0xff, 0x00, 0xc3},
		"plain":        []byte("base64:not encoded"),
		"binary value": {0x80, 0x81, 0xfe, 0xff, 0},
	}
	for key, v := range entries {
		if code, b := k.do("PUT", "/v1/kv/bin", url.Values{"key": {key}}, v); code != 204 {
			t.Fatalf("PUT key %q = %d %s", key, code, b)
		}
	}
	var obj struct {
		Object string
		Kind   string
		Value  map[string]string
	}
	k.getJSON("bin", &obj)
	if len(obj.Value) != len(entries) {
		t.Fatalf("JSON view has %d keys, want %d: %v", len(obj.Value), len(entries), obj.Value)
	}
	for jk, jv := range obj.Value {
		key, v := mustParse(t, jk), mustParse(t, jv)
		if want, ok := entries[string(key)]; !ok || !bytes.Equal(v, want) {
			t.Errorf("JSON %q: %q decodes to key %q = %q, want %q", jk, jv, key, v, want)
		}
	}

	members := []string{"\xff", "\xc3\x28", "ok"}
	for _, m := range members {
		if code, b := k.do("POST", "/v1/kv/"+url.PathEscape("set\xfe"), url.Values{"op": {"sadd"}, "member": {m}}, nil); code != 204 {
			t.Fatalf("sadd %q = %d %s", m, code, b)
		}
	}
	var set struct {
		Object string
		Value  []string
	}
	k.getJSON("set\xfe", &set)
	if got := mustParse(t, set.Object); string(got) != "set\xfe" {
		t.Errorf("object name in JSON %q decodes to %q", set.Object, got)
	}
	var gotMembers []string
	for _, m := range set.Value {
		gotMembers = append(gotMembers, string(mustParse(t, m)))
	}
	if strings.Join(gotMembers, "|") != "ok|\xc3\x28|\xff" {
		t.Errorf("set members decode to %q, want %q", gotMembers, []string{"ok", "\xc3\x28", "\xff"})
	}

	reg := []byte{0xde, 0xad, 0xbe, 0xef, 0xff}
	if code, b := k.do("POST", "/v1/kv/reg", url.Values{"op": {"set"}}, reg); code != 204 {
		t.Fatalf("set register = %d %s", code, b)
	}
	var r struct{ Value string }
	k.getJSON("reg", &r)
	if got := mustParse(t, r.Value); !bytes.Equal(got, reg) {
		t.Errorf("register JSON %q decodes to %x, want %x", r.Value, got, reg)
	}
}

// Counters at three sites, each in range, whose merged sum is past
// MaxInt64: every site reads MaxInt64 marked saturated, not a wrapped
// negative, and a further increment is refused with 409.
func TestMergedCountersPastInt64SaturateAndRefuseMore(t *testing.T) {
	c := newCluster(t, 3)
	servers := make([]kvServer, len(c.stores))
	for i, s := range c.stores {
		servers[i] = kvServer{t, httptest.NewServer(replica.Handler(s))}
		defer servers[i].srv.Close()
	}
	// Cut apart, so that each increments what it sees as 0.
	c.p.Cut(c.addrs[0], c.addrs[1])
	c.p.Cut(c.addrs[0], c.addrs[2])
	c.p.Cut(c.addrs[1], c.addrs[2])
	for i, k := range servers {
		if code, b := k.do("POST", "/v1/kv/hits", url.Values{"op": {"incr"}, "by": {"9223372036854775807"}}, nil); code != 204 {
			t.Fatalf("incr MaxInt64 at site %d = %d %s", i, code, b)
		}
	}
	c.p.HealAll()
	c.waitFor("the counters to converge", 10*time.Second, c.converged)
	for i, k := range servers {
		var v struct {
			Value     int64
			Saturated bool
		}
		k.getJSON("hits", &v)
		if v.Value != math.MaxInt64 || !v.Saturated {
			t.Errorf("site %d reads %d (saturated %v), want %d, saturated", i, v.Value, v.Saturated, int64(math.MaxInt64))
		}
		if code, b := k.do("POST", "/v1/kv/hits", url.Values{"op": {"incr"}}, nil); code != 409 || !strings.Contains(string(b), "int64") {
			t.Errorf("incr on the saturated counter at site %d = %d %s, want 409 naming the int64 range", i, code, b)
		}
	}
}

// incr by MaxInt64 then 1 at one site is refused, not wrapped to MinInt64.
func TestIncrPastMaxInt64IsRefusedOverHTTP(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	k := kvServer{t, httptest.NewServer(replica.Handler(s))}
	defer k.srv.Close()
	if code, b := k.do("POST", "/v1/kv/hits", url.Values{"op": {"incr"}, "by": {"9223372036854775807"}}, nil); code != 204 {
		t.Fatalf("incr MaxInt64 = %d %s", code, b)
	}
	code, b := k.do("POST", "/v1/kv/hits", url.Values{"op": {"incr"}, "by": {"1"}}, nil)
	if code != 409 || !strings.Contains(string(b), "overflow") {
		t.Fatalf("incr 1 past MaxInt64 = %d %s, want 409 naming the overflow", code, b)
	}
	var v struct {
		Value     int64
		Saturated bool
	}
	k.getJSON("hits", &v)
	if v.Value != math.MaxInt64 || v.Saturated {
		t.Fatalf("counter after the refused incr = %d (saturated %v), want MaxInt64", v.Value, v.Saturated)
	}
}
