package replica_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/replica"
)

func TestHTTPAPI(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	srv := httptest.NewServer(replica.Handler(s))
	defer srv.Close()

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name         string
		method, path string
		body         string
		wantCode     int
		wantBody     string // substring
	}{
		{"put a key", "PUT", "/v1/kv/gray/rules?key=checkout", "10%", 204, ""},
		{"read it back raw", "GET", "/v1/kv/gray/rules?key=checkout", "", 200, "10%"},
		{"read the object as JSON", "GET", "/v1/kv/gray/rules", "", 200, `"value":{"checkout":"10%"}`},
		{"a missing key is 404", "GET", "/v1/kv/gray/rules?key=nope", "", 404, "not found"},
		{"a missing object is 404", "GET", "/v1/kv/none", "", 404, "not found"},
		{"delete the key", "DELETE", "/v1/kv/gray/rules?key=checkout", "", 204, ""},
		{"deleted key is gone", "GET", "/v1/kv/gray/rules?key=checkout", "", 404, ""},
		{"put without key is 400", "PUT", "/v1/kv/gray/rules", "x", 400, "key"},
		{"increment a counter", "POST", "/v1/kv/hits?op=incr&by=5", "", 204, ""},
		{"decrement it", "POST", "/v1/kv/hits?op=incr&by=-2", "", 204, ""},
		{"read the counter", "GET", "/v1/kv/hits", "", 200, `"value":3`},
		{"a bad increment is 400", "POST", "/v1/kv/hits?op=incr&by=x", "", 400, "integer"},
		{"a map operation on a counter is 409", "PUT", "/v1/kv/hits?key=a", "1", 409, "kind"},
		{"add to a set", "POST", "/v1/kv/lanes?op=sadd&member=blue", "", 204, ""},
		{"read the set", "GET", "/v1/kv/lanes", "", 200, `"value":["blue"]`},
		{"an unknown op is 400", "POST", "/v1/kv/lanes?op=zap", "", 400, "op"},
		{"set a register", "POST", "/v1/kv/banner?op=set", "hello", 204, ""},
		{"read the register", "GET", "/v1/kv/banner", "", 200, `"value":"hello"`},
	}
	for _, st := range steps {
		code, body := do(st.method, st.path, st.body)
		if code != st.wantCode || !strings.Contains(body, st.wantBody) {
			t.Errorf("%s: %s %s = %d %q, want %d containing %q", st.name, st.method, st.path, code, body, st.wantCode, st.wantBody)
		}
	}
}

func TestHTTPWatchStreamsChanges(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	srv := httptest.NewServer(replica.Handler(s))
	defer srv.Close()
	// The deadline ends the stream, and so the test, if no event comes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/watch/gray/", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	put(t, s, "gray/rules", "checkout", "50%")
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var j replica.ObjectJSON
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			t.Fatalf("event data %q: %v", data, err)
		}
		if j.Object != "gray/rules" || j.Kind != "ormap" {
			t.Fatalf("event = %+v, want gray/rules ormap", j)
		}
		return
	}
	t.Fatalf("stream ended without an event: %v", sc.Err())
}
