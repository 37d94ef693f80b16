package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/testexec"
	"go.uber.org/goleak"
)

// TestMain lets a test re-run this binary as `duohuo` (DUOHUO_TEST_AS_MAIN=1)
// so that signals are tested on a real process.
func TestMain(m *testing.M) {
	if os.Getenv("DUOHUO_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m,
		// `lock verify --embedded` (lock_test.go) runs an embedded etcd
		// cluster. Closing it does not wait for a peer's in-flight
		// /version probe, whose server goroutine can still be in etcd's
		// handler when the tests end (seen once in CI). Only that etcd
		// handler is ignored: the net/http serving goroutines of our own
		// servers are still checked.
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/server/v3/etcdserver/api/etcdhttp.newPeerHandler.versionHandler.func1"),
	)
}

const serveConfig = `
admin:
  listen: 127.0.0.1:0
listeners:
  - name: public
    listen: 127.0.0.1:0
services:
  - name: api
    discovery:
      - static:
          instances:
            - addr: 127.0.0.1:9
routes:
  - name: all
    service: api
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "duohuo.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve starts the admin listener with duohuo_platform_info on /metrics,
// and SIGTERM shuts it down cleanly with exit code 0.
func TestServeMetricsAndSIGTERM(t *testing.T) {
	cfg := writeConfig(t, serveConfig)
	cmd := testexec.Command(os.Args[0], "serve", "-c", cfg, "--drain-timeout", "5s")
	cmd.Env = append(os.Environ(), "DUOHUO_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	adminRE := regexp.MustCompile(`msg=serving admin=(\S+)`)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var admin string
	var log bytes.Buffer
	deadline := time.After(20 * time.Second)
	for admin == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before listening:\n%s", log.String())
			}
			log.WriteString(l + "\n")
			if m := adminRE.FindStringSubmatch(l); m != nil {
				admin = m[1]
			}
		case <-deadline:
			t.Fatalf("serve did not start in time:\n%s", log.String())
		}
	}
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "duohuo_platform_info{") {
		t.Errorf("/metrics has no duohuo_platform_info")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		r, err := http.Get("http://" + admin + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", p, r.StatusCode)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		for l := range lines {
			log.WriteString(l + "\n")
		}
		waited <- cmd.Wait()
	}()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v, want exit 0\n%s", err, log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not exit after SIGTERM\n%s", log.String())
	}
	if !strings.Contains(log.String(), "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", log.String())
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	cfg := writeConfig(t, "listeners:\n  - name: x\n    listen: 127.0.0.1:0\n    bogus: 1\n")
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-c", cfg}, &out, &errb); code != exitUsage {
		t.Errorf("serve with a bad config exited %d, want %d; stderr:\n%s", code, exitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), "duohuo.yaml:4:5") {
		t.Errorf("stderr does not name the place (duohuo.yaml:4:5):\n%s", errb.String())
	}
}

func TestServeNeedsConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve"}, &out, &errb); code != exitUsage {
		t.Errorf("serve without -c exited %d, want %d", code, exitUsage)
	}
}

// A config change on disk is applied without a restart, and a bad one is
// refused while the running config keeps serving.
func TestServeReloadsConfigFile(t *testing.T) {
	up := newEcho(t, "v1")
	up2 := newEcho(t, "v2")
	text := func(addr string) string {
		return strings.Replace(serveConfig, "127.0.0.1:9", addr, 1)
	}
	cfg := writeConfig(t, text(up))
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan []string, 1)
	done := make(chan error, 1)
	var errb syncBuffer
	var adminAddr string
	go func() {
		done <- serve(ctx, serveOptions{path: cfg, drain: 5 * time.Second, watch: true, stderr: &errb,
			started: func(admin string, gw []string) { adminAddr = admin; started <- gw }})
	}()
	var gw string
	select {
	case a := <-started:
		gw = a[0]
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	if got := getBody(t, "http://"+gw+"/"); got != "v1" {
		t.Fatalf("before reload: %q, want v1", got)
	}
	os.WriteFile(cfg, []byte("listeners: [oops"), 0o600)
	waitLog(t, &errb, "config reload refused")
	if got := getBody(t, "http://"+gw+"/"); got != "v1" {
		t.Fatalf("after a bad reload: %q, want v1 still", got)
	}
	// A file that does not load is a rejected reload too.
	if m := getBody(t, "http://"+adminAddr+"/metrics"); !strings.Contains(m, `duohuo_config_reloads_total{result="rejected"} 1`) {
		t.Errorf("after a refused reload, /metrics has no rejected reload counted:\n%s", grepLines(m, "duohuo_config_reloads_total"))
	}
	os.WriteFile(cfg, []byte(text(up2)), 0o600)
	deadline := time.Now().Add(10 * time.Second)
	for getBody(t, "http://"+gw+"/") != "v2" {
		if time.Now().After(deadline) {
			t.Fatalf("config change not applied:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The demo's printed configuration is one that serve and validate accept.
func TestDemoPrintConfigValidates(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--print-config"}, &out, &errb); code != exitOK {
		t.Fatalf("demo --print-config exited %d: %s", code, errb.String())
	}
	p := writeConfig(t, out.String())
	out.Reset()
	if code := run([]string{"validate", p}, &out, &errb); code != exitOK {
		t.Fatalf("validate of the demo config exited %d:\n%s%s", code, out.String(), errb.String())
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// startServe runs serve in-process on the config file at path, with hup as
// its SIGHUP channel, until the test ends; it returns the admin and first
// gateway addresses and the log.
func startServe(t *testing.T, path string, hup <-chan os.Signal) (admin, gw string, log *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan [2]string, 1)
	done := make(chan error, 1)
	log = &syncBuffer{}
	go func() {
		done <- serve(ctx, serveOptions{path: path, drain: 5 * time.Second, hup: hup, stderr: log,
			started: func(admin string, gw []string) { started <- [2]string{admin, gw[0]} }})
	}()
	select {
	case a := <-started:
		admin, gw = a[0], a[1]
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return admin, gw, log
}

// waitLogCount waits until want appears n times in the log.
func waitLogCount(t *testing.T, b *syncBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(b.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q %d times:\n%s", want, n, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// adminDo sends one request to the admin API and returns the status and
// body.
func adminDo(t *testing.T, c *http.Client, method, url, host string, header map[string]string, body string) (int, string) {
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
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A SIGHUP applies a new admin.token at once (the old one is refused) and
// moves the admin listener to a new admin.listen; a new address that cannot
// be bound refuses the whole reload and the admin keeps serving where it
// was.
func TestServeReloadAppliesAdminTokenAndListen(t *testing.T) {
	up, up2 := newEcho(t, "v1"), newEcho(t, "v2")
	text := func(upstream, listen, token string) string {
		s := strings.Replace(serveConfig, "127.0.0.1:9", upstream, 1)
		return strings.Replace(s, "  listen: 127.0.0.1:0\nlisteners:", "  listen: "+listen+"\n  token: "+token+"\nlisteners:", 1)
	}
	cfg := writeConfig(t, text(up, "127.0.0.1:0", "old-token"))
	hup := make(chan os.Signal, 1)
	admin, gw, log := startServe(t, cfg, hup)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second} // keeps its connection across reloads
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	if code, _ := adminDo(t, c, "GET", "http://"+admin+"/v1/services", "", bearer("old-token"), ""); code != 200 {
		t.Fatalf("old token before the reload: %d, want 200", code)
	}

	// A new token, same address.
	os.WriteFile(cfg, []byte(text(up, "127.0.0.1:0", "new-token")), 0o600)
	hup <- syscall.SIGHUP
	waitLogCount(t, log, "msg=\"config reloaded\"", 1)
	if code, _ := adminDo(t, c, "GET", "http://"+admin+"/v1/services", "", bearer("old-token"), ""); code != 401 {
		t.Errorf("old token after the reload: %d, want 401", code)
	}
	if code, _ := adminDo(t, c, "GET", "http://"+admin+"/v1/services", "", bearer("new-token"), ""); code != 200 {
		t.Errorf("new token after the reload: %d, want 200", code)
	}

	// A new address: bound, then the old one closed.
	os.WriteFile(cfg, []byte(text(up, "127.0.0.2:0", "new-token")), 0o600)
	hup <- syscall.SIGHUP
	waitLogCount(t, log, "msg=\"config reloaded\"", 2)
	m := regexp.MustCompile(`msg="admin listener moved" from=\S+ to=(\S+)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no \"admin listener moved\" in the log:\n%s", log.String())
	}
	moved := m[1]
	if !strings.HasPrefix(moved, "127.0.0.2:") {
		t.Fatalf("admin moved to %s, want 127.0.0.2", moved)
	}
	if code, _ := adminDo(t, c, "GET", "http://"+moved+"/v1/services", "", bearer("new-token"), ""); code != 200 {
		t.Errorf("new address after the reload: %d, want 200", code)
	}
	if conn, err := net.DialTimeout("tcp", admin, 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("old admin address %s still accepts connections", admin)
	}

	// A new address that is taken, together with a gateway change: the
	// whole reload is refused and counted as rejected.
	taken, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	os.WriteFile(cfg, []byte(text(up2, taken.Addr().String(), "third-token")), 0o600)
	hup <- syscall.SIGHUP
	waitLogCount(t, log, "the admin listener cannot move", 1)
	if code, _ := adminDo(t, c, "GET", "http://"+moved+"/v1/services", "", bearer("new-token"), ""); code != 200 {
		t.Errorf("after a refused move, the running token on the running address: %d, want 200", code)
	}
	if code, _ := adminDo(t, c, "GET", "http://"+moved+"/v1/services", "", bearer("third-token"), ""); code != 401 {
		t.Errorf("after a refused move, the refused file's token: %d, want 401", code)
	}
	if got := getBody(t, "http://"+gw+"/"); got != "v1" {
		t.Errorf("after a refused move, the gateway answers %q, want v1 still", got)
	}
	_, metrics := adminDo(t, c, "GET", "http://"+moved+"/metrics", "", bearer("new-token"), "")
	for _, want := range []string{`duohuo_config_reloads_total{result="rejected"} 1`, `duohuo_config_reloads_total{result="applied"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s:\n%s", want, grepLines(metrics, "duohuo_config_reloads_total"))
		}
	}
}

// A page in a browser on the gateway's machine cannot change the token-less
// admin API: not a gray rollback with a text/plain POST, not a 503 fault
// with a PUT through a rebound name; duohuo's own CLI and JSON clients can.
func TestServeAdminRefusesCrossSitePages(t *testing.T) {
	cfg := writeConfig(t, serveConfig+"replication:\n  dir: state\n")
	admin, gw, _ := startServe(t, cfg, nil)
	base := "http://" + admin
	c := &http.Client{Timeout: 10 * time.Second}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	policy := `{"subsets":[{"name":"v2","labels":{"version":"v2"}}]}`
	if code, body := adminDo(t, c, "PUT", base+"/v1/gray/routes/all", "", jsonCT, policy); code != 200 {
		t.Fatalf("PUT a gray policy with a JSON body: %d %s, want 200", code, body)
	}
	_, port, _ := net.SplitHostPort(admin)
	attacks := []struct {
		name         string
		method, path string
		host         string
		header       map[string]string
		body         string
	}{
		{"gray rollback by a text/plain POST from another site", "POST", "/v1/gray/routes/all/rollback", "",
			map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, ""},
		{"gray rollback by a text/plain POST from an old browser", "POST", "/v1/gray/routes/all/rollback", "",
			map[string]string{"Content-Type": "text/plain"}, ""},
		{"503 fault by a PUT through a rebound name", "PUT", "/v1/faults/all", "evil.example:" + port,
			map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example:" + port}, `{"spec": "abort=503"}`},
		{"503 fault by a PUT from another site", "PUT", "/v1/faults/all", "",
			map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, `{"spec": "abort=503"}`},
		{"kv read through a rebound name", "GET", "/v1/kv/gray/rules", "evil.example:" + port, nil, ""},
	}
	for _, a := range attacks {
		code, body := adminDo(t, c, a.method, base+a.path, a.host, a.header, a.body)
		if code != http.StatusForbidden || !strings.HasPrefix(body, "admin: ") {
			t.Errorf("%s: %d %q, want 403 with the reason", a.name, code, body)
		}
	}
	if _, body := adminDo(t, c, "GET", base+"/v1/gray/routes/all", "", nil, ""); !strings.Contains(body, `"revision": 1`) {
		t.Errorf("after the refused rollbacks, the policy is not revision 1 still:\n%s", body)
	}
	if resp, err := c.Get("http://" + gw + "/"); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.Header.Get("x-duohuo-fault") != "" {
		t.Errorf("after the refused PUTs, a fault answered the gateway's request (%s)", resp.Status)
	}

	// Programs: a JSON body, or the CLI's X-Duohuo-Admin header.
	if code, body := adminDo(t, c, "POST", base+"/v1/gray/routes/all/rollback", "", map[string]string{"X-Duohuo-Admin": "1"}, ""); code != 200 {
		t.Errorf("rollback with X-Duohuo-Admin: %d %s, want 200", code, body)
	}
	for _, args := range [][]string{{"put", "gray/rules", "checkout", "10%"}, {"get", "gray/rules", "checkout"}} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"kv", "--admin", admin}, args...), &out, &errb); code != exitOK {
			t.Errorf("duohuo kv %s: exit %d, stderr %s", strings.Join(args, " "), code, errb.String())
		}
		if args[0] == "get" && out.String() != "10%\n" {
			t.Errorf("duohuo kv get after put = %q, want 10%%", out.String())
		}
	}
}

// serve's admin listener serves every path the admin section's
// documentation names (and nothing like a web console, which it does not
// claim).
func TestServeServesTheAdminItDocuments(t *testing.T) {
	text := serveConfig + "replication:\n  dir: " + t.TempDir() + "\n"
	cfg := writeConfig(t, text)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan error, 1)
	var errb syncBuffer
	go func() {
		done <- serve(ctx, serveOptions{path: cfg, drain: 5 * time.Second, stderr: &errb,
			started: func(admin string, _ []string) { started <- admin }})
	}()
	var admin string
	select {
	case admin = <-started:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var schema struct {
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(config.JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	doc := schema.Properties["admin"].Description
	var paths []string // the URL paths named in doc, not the files (docs/x.md)
	for _, m := range regexp.MustCompile(`(?:^|[\s(])(/[a-z0-9/_]+)`).FindAllStringSubmatch(doc, -1) {
		paths = append(paths, m[1])
	}
	if len(paths) < 5 {
		t.Fatalf("admin doc %q names %d paths, want the admin API's", doc, len(paths))
	}
	for _, p := range paths {
		if p == "/v1/kv/" || p == "/v1/watch/" {
			p += "doc" // an object's name; a missing object is the handler's 404
		}
		resp, err := http.Get("http://" + admin + p)
		if err != nil {
			t.Fatal(err)
		}
		var body []byte
		if resp.StatusCode == http.StatusNotFound {
			body, _ = io.ReadAll(resp.Body)
		}
		resp.Body.Close() // a watch streams: read no further than its head
		// The admin mux's own answer for a path nobody serves.
		if resp.StatusCode == http.StatusNotFound && string(body) == "404 page not found\n" || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("admin doc names %s, but GET %s = %d %q", p, p, resp.StatusCode, body)
		}
	}
}
