package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/replica"
)

// serve with a replication peer that accepts connections and never answers
// comes up at once and serves traffic and local writes; /readyz and kv
// status then name the peer as unreachable, while joins go on behind.
func TestServeWithAnUnreachablePeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts (the kernel's backlog), never answers
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := ln.Addr().String()

	up := newEcho(t, "up")
	text := strings.Replace(serveConfig, "127.0.0.1:9", up, 1) +
		"replication:\n  dir: " + t.TempDir() + "\n  network: local\n  bind: 127.0.0.1:0\n  join: [" + peer + "]\n"
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan [2]string, 1)
	done := make(chan error, 1)
	log := &syncBuffer{}
	go func() {
		done <- serve(ctx, serveOptions{path: writeConfig(t, text), drain: 5 * time.Second, stderr: log,
			started: func(admin string, gw []string) { started <- [2]string{admin, gw[0]} }})
	}()
	var admin, gw string
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
	if got := getBody(t, "http://"+gw+"/"); got != "up" {
		t.Errorf("traffic through the gateway = %q, want the upstream's answer", got)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"kv", "--admin", "http://" + admin, "incr", "hits"}, &out, &errb); code != exitOK {
		t.Fatalf("kv incr = exit %d: %s", code, errb.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := getCode(t, "http://"+admin+"/readyz")
		if code == 200 && strings.Contains(body, "degraded: replica: peer "+peer+" unreachable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q, want 200 naming peer %s unreachable", code, body, peer)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of a deadline-bounded wait
	}
	out.Reset()
	if code := run([]string{"kv", "--admin", "http://" + admin, "status"}, &out, &errb); code != exitOK {
		t.Fatalf("kv status = exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "peer "+peer+` site="" unreachable since=`) {
		t.Errorf("kv status does not name the unreachable peer:\n%s", out.String())
	}
	if !strings.Contains(log.String(), "join failed; retrying in the background") {
		t.Errorf("the log does not say the join failed and is retried:\n%s", log.String())
	}
}

// The replication timings are passed to the store; a probe timeout that is not
// below the probe interval is refused, naming the field.
func TestOpenReplicaTimings(t *testing.T) {
	cfg := &config.Config{Replication: &config.Replication{
		Dir: t.TempDir(), Bind: "127.0.0.1:0", Network: "local",
		ProbeInterval: config.Duration(time.Second), ProbeTimeout: config.Duration(2 * time.Second),
	}}
	if _, err := openReplica(context.Background(), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "replication.probe_timeout") {
		t.Errorf("openReplica with probe_timeout above probe_interval = %v, want an error naming replication.probe_timeout", err)
	}
	cfg.Replication.ProbeTimeout = config.Duration(100 * time.Millisecond)
	cfg.Replication.AntiEntropyInterval = config.Duration(50 * time.Millisecond)
	cfg.Replication.SuspicionMult = 5
	rep, err := openReplica(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatalf("openReplica = %v", err)
	}
	if err := rep.Close(); err != nil {
		t.Error(err)
	}
}

// replication.at_rest gives the store its key ring, from a private file or
// an environment variable; a store sealed that way opens only with it, and
// a bad ring stops the replica (not serve) with the field's name.
func TestOpenReplicaAtRest(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "at-rest.keys")
	os.WriteFile(keys, []byte("1:000102030405060708090a0b0c0d0e0f\n"), 0o600)
	cfg := &config.Config{Replication: &config.Replication{Dir: filepath.Join(dir, "data"), AtRest: &config.AtRest{KeysFile: keys}}}
	rep, err := openReplica(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatalf("openReplica with keys_file = %v", err)
	}
	if err := rep.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Put("k", []byte("sealed-in-the-file")); return nil }); err != nil {
		t.Fatal(err)
	}
	rep.Close()
	if b, _ := os.ReadFile(filepath.Join(dir, "data", "replica.db")); bytes.Contains(b, []byte("sealed-in-the-file")) {
		t.Fatal("the value is in the store file in clear")
	}

	t.Setenv("TEST_AT_REST_KEYS", "1:000102030405060708090a0b0c0d0e0f,2:f0e0d0c0b0a090807060504030201000")
	cfg.Replication.AtRest = &config.AtRest{KeysEnv: "TEST_AT_REST_KEYS"}
	rep, err = openReplica(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatalf("openReplica with keys_env = %v", err)
	}
	rep.Close()

	cfg.Replication.AtRest = nil
	if _, err := openReplica(context.Background(), cfg, nil, nil); !errors.Is(err, replica.ErrNoKeys) {
		t.Errorf("openReplica of a sealed store without at_rest = %v, want ErrNoKeys", err)
	}
	t.Setenv("TEST_AT_REST_KEYS", "1:short")
	cfg.Replication.AtRest = &config.AtRest{KeysEnv: "TEST_AT_REST_KEYS"}
	if _, err := openReplica(context.Background(), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "replication.at_rest: environment variable TEST_AT_REST_KEYS: gm: key ring line 1") {
		t.Errorf("openReplica with a bad ring = %v, want an error naming replication.at_rest and the variable", err)
	}
}
