package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
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
