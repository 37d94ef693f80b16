package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/replica"
)

// serveWithReplicaDir writes a config whose replication dir is dir, serves
// it in-process with traffic to an echo upstream, and returns the admin and
// gateway addresses and the log; serve stops when the test ends.
func serveWithReplicaDir(t *testing.T, dir string) (admin, gw string, log *syncBuffer) {
	t.Helper()
	up := newEcho(t, "up")
	text := strings.Replace(serveConfig, "127.0.0.1:9", up, 1) + "replication:\n  dir: " + dir + "\n  network: local\n"
	cfg := writeConfig(t, text)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan [2]string, 1)
	done := make(chan error, 1)
	log = &syncBuffer{}
	go func() {
		done <- serve(ctx, serveOptions{path: cfg, drain: 5 * time.Second, stderr: log,
			started: func(admin string, gw []string) { started <- [2]string{admin, gw[0]} }})
	}()
	select {
	case a := <-started:
		admin, gw = a[0], a[1]
	case err := <-done:
		t.Fatalf("serve exited before serving: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return admin, gw, log
}

func getCode(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve comes up and serves traffic when the replica cannot open; /readyz
// stays 200 and names the replica as degraded, and the store's API answers
// 503 with the reason.
func TestServeWithoutItsReplica(t *testing.T) {
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		cause string // in the log and /readyz
	}{
		{"the data dir is under a file", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(f, "replica")
		}, "not a directory"},
		{"the store file is not a bbolt file", func(t *testing.T) string {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "replica.db"), make([]byte, 8192), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir
		}, "invalid"},
		{"the store file is locked by another process", func(t *testing.T) string {
			dir := t.TempDir()
			st, err := replica.Open(context.Background(), replica.Config{Name: "holder", Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return dir
		}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin, gw, log := serveWithReplicaDir(t, tt.dir(t))
			if got := getBody(t, "http://"+gw+"/"); got != "up" {
				t.Errorf("traffic through the gateway = %q, want the upstream's answer", got)
			}
			if !strings.Contains(log.String(), "replica did not start") || !strings.Contains(log.String(), tt.cause) {
				t.Errorf("the log does not say the replica did not start, and why (%q):\n%s", tt.cause, log.String())
			}
			code, body := getCode(t, "http://"+admin+"/readyz")
			if code != 200 || !strings.HasPrefix(body, "ready\n") || !strings.Contains(body, "degraded: replica: not started") || !strings.Contains(body, tt.cause) {
				t.Errorf("/readyz = %d %q, want 200, ready, and the replica degraded with its cause", code, body)
			}
			if code, body := getCode(t, "http://"+admin+"/v1/kv/gray/rules"); code != 503 || !strings.Contains(body, tt.cause) {
				t.Errorf("GET /v1/kv/gray/rules = %d %q, want 503 with the cause", code, body)
			}
		})
	}
}

// A replica that recovered with quarantined records serves, and /readyz
// stays ready and says so.
func TestServeReportsQuarantinedRecords(t *testing.T) {
	dir := t.TempDir()
	corruptStore(t, dir)
	admin, _, _ := serveWithReplicaDir(t, dir)
	code, body := getCode(t, "http://"+admin+"/readyz")
	if code != 200 || !strings.Contains(body, "degraded: replica: 1 record(s) quarantined") {
		t.Errorf("/readyz = %d %q, want 200 naming the quarantined record", code, body)
	}
	if got := getBody(t, "http://"+admin+"/v1/kv/gray/rules?key=a"); got != "1" {
		t.Errorf("the good data = %q, want 1", got)
	}
}

// A replica holding a kind conflict serves, and /readyz stays ready and
// says so.
func TestServeReportsKindConflicts(t *testing.T) {
	dir := t.TempDir()
	conflictStore(t, dir)
	admin, _, _ := serveWithReplicaDir(t, dir)
	code, body := getCode(t, "http://"+admin+"/readyz")
	if code != 200 || !strings.Contains(body, "degraded: replica: 1 kind conflict(s)") {
		t.Errorf("/readyz = %d %q, want 200 naming the kind conflict", code, body)
	}
}

// Two duohuo serve sites replicating to each other: a gray policy applied
// through one site's admin API is live on the other, with who made it.
func TestServeReplicatesGrayPolicies(t *testing.T) {
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	a, b := port(), port()
	site := func(name, bind, join string) string {
		text := serveConfig + "replication:\n  name: " + name + "\n  dir: " + t.TempDir() + "\n  network: local\n  bind: " + bind + "\n"
		if join != "" {
			text += "  join: [" + join + "]\n"
		}
		admin, _, _ := startServe(t, writeConfig(t, text), nil)
		return "http://" + admin
	}
	adminA, adminB := site("a", a, ""), site("b", b, a)
	req, _ := http.NewRequest(http.MethodPut, adminA+"/v1/gray/routes/all",
		strings.NewReader(`{"subsets": [{"name": "v2", "labels": {"version": "v2"}}], "rules": [{"name": "canary", "subset": "v2", "user_hash": {"header": "x-user-id", "percent": 7}}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Duohuo-Admin", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT gray policy on site a = %d %s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, got := getCode(t, adminB+"/v1/gray/routes/all")
		if code == 200 && strings.Contains(got, `"percent": 7`) && strings.Contains(got, "site:a") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("site b never had the policy: %d %s", code, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
