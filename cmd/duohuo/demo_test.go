package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The demo serves the gateway and a replica per cloud: a write in one cloud
// is read in another, and the gateway answers from the local cloud.
func TestDemoWriteInOneCloudReadInAnother(t *testing.T) {
	var out syncBuffer
	cmd := newDemoCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--base-port", "-1", "--secure-listen", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	cmd.SetContext(ctx)
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	waitLog(t, &out, "Ctrl-C stops everything")
	m := regexp.MustCompile(`gateway http://(\S+)  admin http://(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no addresses in the demo's output:\n%s", out.String())
	}
	gw, admin := m[1], m[2]
	if body := getBody(t, "http://"+gw+"/hello"); !strings.Contains(body, `"cloud":"ctyun"`) {
		t.Errorf("GET /hello through the demo gateway = %q, want an answer from ctyun", body)
	}

	// The secure listener answers TLS 1.3 and TLCP on one port, as the
	// banner's commands say.
	sm := regexp.MustCompile(`gm client --ca (\S+) https://(\S+)/hello`).FindStringSubmatch(out.String())
	if sm == nil {
		t.Fatalf("no secure listener in the demo's output:\n%s", out.String())
	}
	var gmOut, gmErr bytes.Buffer
	if code := run([]string{"gm", "client", "--ca", sm[1], "https://" + sm[2] + "/hello"}, &gmOut, &gmErr); code != exitOK || !strings.Contains(gmOut.String(), `"cloud":"ctyun"`) {
		t.Errorf("duohuo gm client to the demo: exit %d, %q %s", code, gmOut.String(), gmErr.String())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}
	defer tr.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: tr, Timeout: time.Minute}).Get("https://" + sm[2] + "/hello"); err != nil {
		t.Errorf("TLS 1.3 to the demo's secure listener: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("TLS to the demo's secure listener: %d over %#x", resp.StatusCode, resp.TLS.Version)
		}
	}

	// The write the demo's banner suggests.
	var kvOut, kvErr bytes.Buffer
	if code := run([]string{"kv", "--admin", admin, "put", "demo/kv", "greeting", "hello"}, &kvOut, &kvErr); code != exitOK {
		t.Fatalf("duohuo kv put in ctyun: exit %d, stderr %s", code, kvErr.String())
	}
	for _, site := range []string{"ecloud", "huawei"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := http.Get("http://" + admin + "/sites/" + site + "/v1/kv/demo/kv?key=greeting")
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 16)
			n, _ := r.Body.Read(b)
			r.Body.Close()
			if r.StatusCode == 200 && string(b[:n]) == "hello" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never saw the write made in ctyun (last %d %q)", site, r.StatusCode, b[:n])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// The commands the demo prints work as typed: under go run the program's
// binary is a temporary file, so they say "go run ./cmd/duohuo".
func TestDemoPrintsCommandsThatWork(t *testing.T) {
	dir := t.TempDir()
	onPath := filepath.Join(dir, "bin", "duohuo")
	other := filepath.Join(dir, "elsewhere", "duohuo")
	goRun := filepath.Join(dir, "go-build1234", "b001", "exe", "duohuo")
	for _, f := range []string{onPath, other, goRun} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	found := func(string) (string, error) { return onPath, nil }
	missing := func(string) (string, error) { return "", exec.ErrNotFound }
	tests := []struct {
		name, exe string
		look      func(string) (string, error)
		want      string
	}{
		{"installed and on PATH", onPath, found, "duohuo"},
		{"started by go run", goRun, missing, "go run ./cmd/duohuo"},
		{"go run while another duohuo is on PATH", goRun, found, "go run ./cmd/duohuo"},
		{"a binary outside PATH", other, missing, other},
		{"a binary other than the one on PATH", other, found, other},
	}
	for _, tt := range tests {
		exe := func() (string, error) { return tt.exe, nil }
		if got := selfCommand(tt.exe, exe, tt.look); got != tt.want {
			t.Errorf("%s: selfCommand(%q) = %q, want %q", tt.name, tt.exe, got, tt.want)
		}
	}
}
