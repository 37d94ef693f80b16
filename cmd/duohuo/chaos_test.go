package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestChaosProxyUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no upstream", []string{"chaos", "proxy"}},
		{"a bad toxic", []string{"chaos", "proxy", "--upstream", "127.0.0.1:1", "--toxic", "latency:soon"}},
		{"an admin address that is not loopback", []string{"chaos", "proxy", "--upstream", "127.0.0.1:1", "--admin", "0.0.0.0:8474"}},
		{"an admin address without a port", []string{"chaos", "proxy", "--upstream", "127.0.0.1:1", "--admin", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != exitUsage {
				t.Fatalf("duohuo %s: exit %d, want %d (stderr %q)", strings.Join(tt.args, " "), code, exitUsage, errb.String())
			}
		})
	}
}

// TestChaosProxyRunsAndObeysItsAdminAPI runs the command's body against a
// real echo server: traffic flows, the admin API blackholes it, and
// cancelling the context stops everything.
func TestChaosProxyRunsAndObeysItsAdminAPI(t *testing.T) {
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

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runChaosProxy(ctx, chaosProxyOptions{listen: "127.0.0.1:0", upstream: ln.Addr().String(), admin: "127.0.0.1:0"}, out)
	}()
	waitLog(t, out, "admin http://")
	proxyAddr := regexp.MustCompile(`proxy (\S+) ->`).FindStringSubmatch(out.String())[1]
	adminURL := regexp.MustCompile(`admin (\S+)`).FindStringSubmatch(out.String())[1]

	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoOnce := func(msg string) error {
		c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(c, buf)
		return err
	}
	if err := echoOnce("hello"); err != nil {
		t.Fatalf("echo through the proxy: %v", err)
	}
	req, _ := http.NewRequest("PUT", adminURL+"toxics/cut", strings.NewReader("blackhole@upstream"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT toxics/cut = %d, want 200", resp.StatusCode)
	}
	if err := echoOnce("lost"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("echo through a blackhole = %v, want a timeout", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runChaosProxy = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runChaosProxy did not return after cancel")
	}
	if !strings.HasSuffix(out.String(), "stopped\n") {
		t.Errorf("output %q does not end with stopped", out.String())
	}
}
