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

	"github.com/duohuo/duohuo/internal/testexec"
)

func TestChaosServeUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"a listen address that is not loopback", []string{"chaos", "serve", "--listen", "0.0.0.0:8474"}},
		{"a listen address without a port", []string{"chaos", "serve", "--listen", "127.0.0.1"}},
		{"an argument", []string{"chaos", "serve", "extra"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != exitUsage {
				t.Fatalf("duohuo %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "), code, exitUsage, errb.String())
			}
		})
	}
}

// TestChaosServeRunsPopulatesAndClosesEverything runs the command's body:
// --config creates a proxy that relays to a real echo server, the API
// answers, and cancelling the context closes the API and every proxy port.
func TestChaosServeRunsPopulatesAndClosesEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	cfg := filepath.Join(t.TempDir(), "proxies.json")
	os.WriteFile(cfg, []byte(`[{"name":"echo","listen":"127.0.0.1:0","upstream":"`+ln.Addr().String()+`"}]`), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runChaosServe(ctx, chaosServeOptions{listen: "127.0.0.1:0", config: cfg}, out) }()
	waitLog(t, out, "toxiproxy api http://")
	api := regexp.MustCompile(`api (\S+)/`).FindStringSubmatch(out.String())[1]
	if !strings.Contains(out.String(), "proxies 1 from") {
		t.Errorf("output %q does not report the populated proxy", out.String())
	}

	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(api + "/proxies/echo")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Listen string }
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	c, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatalf("dial the populated proxy %q: %v", p.Listen, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hi"))
	if b := make([]byte, 2); func() error { _, err := io.ReadFull(c, b); return err }() != nil {
		t.Fatal("no echo through the proxy")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runChaosServe = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runChaosServe did not return after cancel")
	}
	if _, err := net.Dial("tcp", p.Listen); err == nil {
		t.Errorf("proxy port %s still open after stop", p.Listen)
	}
	if !strings.HasSuffix(out.String(), "stopped\n") {
		t.Errorf("output %q does not end with stopped", out.String())
	}
}

// TestChaosServeSIGTERMClosesEveryPort runs `duohuo chaos serve` as a real
// process: a proxy made through the API listens, and after SIGTERM the
// process exits 0 with neither the API's port nor the proxy's left open.
func TestChaosServeSIGTERMClosesEveryPort(t *testing.T) {
	cmd := testexec.Command(os.Args[0], "chaos", "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DUOHUO_TEST_AS_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var api string
	select {
	case l := <-lines:
		m := regexp.MustCompile(`api http://(\S+)/`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("first line %q does not give the API address", l)
		}
		api = m[1]
	case <-time.After(20 * time.Second):
		t.Fatal("chaos serve did not start in time")
	}

	hc := &http.Client{Transport: &http.Transport{}}
	resp, err := hc.Post("http://"+api+"/proxies", "application/json",
		strings.NewReader(`{"name":"x","listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Listen string }
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	hc.CloseIdleConnections()
	if resp.StatusCode != http.StatusCreated || p.Listen == "" {
		t.Fatalf("POST /proxies = %d %+v", resp.StatusCode, p)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // until the process closes its output
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("chaos serve after SIGTERM: %v, want exit 0", err)
	}
	for _, addr := range []string{api, p.Listen} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts after SIGTERM", addr)
		}
	}
}
