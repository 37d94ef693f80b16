package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/etcdtest"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

func TestLockVerifyUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"neither endpoints nor embedded", []string{"lock", "verify"}},
		{"both endpoints and embedded", []string{"lock", "verify", "--embedded", "--endpoints", "127.0.0.1:2379"}},
		{"an unknown fault", []string{"lock", "verify", "--embedded", "--faults", "meteor"}},
		{"a server fault against a user's cluster", []string{"lock", "verify", "--endpoints", "127.0.0.1:2379", "--faults", "leader-kill"}},
		{"more clients than the checker affords", []string{"lock", "verify", "--embedded", "--clients", "11"}},
		{"a TTL under one second", []string{"lock", "verify", "--embedded", "--ttl", "500ms"}},
		{"release without a holder value", []string{"lock", "release", "job"}},
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

// TestLockVerifyEmbeddedPrintsAPerFaultTable runs the real thing: a 3-member
// embedded cluster behind fault proxies, the etcd lock and the controls.
func TestLockVerifyEmbeddedPrintsAPerFaultTable(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"lock", "verify", "--embedded", "--faults", "pause,leader-kill", "--controls",
		"--clients", "4", "--duration", "3s", "--ttl", "1s", "--visualize-dir", t.TempDir()}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("duohuo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{
		`(?m)^FAULT\s+LOCK\s+RUNS\s+LINEARIZABLE`,
		`(?m)^pause\s+etcdlock\s+1\s+1/1\s.*\sok$`,
		`(?m)^leader-kill\s+etcdlock\s+1\s+1/1\s.*\sok$`,
		`(?m)^pause\s+ttl-only\s+1\s.*caught [01]/1$`,
		`(?m)^pause\s+get-then-put\s+1\s.*caught [01]/1$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks a line matching %s:\n%s", want, out.String())
		}
	}
}

// TestLockVerifyEndpointsStopsClientProcesses runs verify against a
// cluster it does not control, as a user would against their own, with the
// process fault: every client is a child process (this test binary acting
// as duohuo, DUOHUO_TEST_AS_MAIN), stopped with SIGSTOP and continued.
func TestLockVerifyEndpointsStopsClientProcesses(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	t.Setenv("DUOHUO_TEST_AS_MAIN", "1") // for the children only: this process's TestMain has run
	var out, errb bytes.Buffer
	args := []string{"lock", "verify", "--endpoints", strings.Join(c.Endpoints(), ","), "--faults", "sigstop", "--controls",
		"--clients", "3", "--duration", "4s", "--ttl", "1s", "--visualize-dir", t.TempDir()}
	if code := run(args, &out, &errb); code != exitOK {
		t.Fatalf("duohuo %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	t.Logf("\n%s", out.String())
	// FAULT LOCK RUNS LINEARIZABLE ACQUIRES FAILED REFUSED LOST UNKNOWN PAUSES MAX-CHECK RESULT
	row := regexp.MustCompile(`(?m)^sigstop\s+etcdlock\s+1\s+1/1\s+(\d+)\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+ok$`).FindStringSubmatch(out.String())
	if row == nil {
		t.Fatalf("no passing sigstop row for the etcd lock:\n%s", out.String())
	}
	if row[1] == "0" || row[2] == "0" {
		t.Errorf("sigstop row: %s acquires, %s pauses; want both above zero:\n%s", row[1], row[2], out.String())
	}
	for _, want := range []string{`(?m)^sigstop\s+ttl-only\s+1\s.*caught [01]/1$`, `(?m)^sigstop\s+get-then-put\s+1\s.*caught [01]/1$`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks a line matching %s:\n%s", want, out.String())
		}
	}
}

func TestLockOperatorCommands(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	ep := c.Endpoints()[0]
	cli := c.Client(t)
	held := etcdlock.NewLocker(cli, "/duohuo/locks/")
	t.Cleanup(func() { held.Close() })

	duohuo := func(wantCode int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--endpoints", ep)
		if code := run(args, &out, &errb); code != wantCode {
			t.Fatalf("duohuo %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), code, wantCode, errb.String())
		}
		return out.String()
	}
	if got := duohuo(exitOK, "lock", "status", "job"); got != "job: free\n" {
		t.Fatalf("status of a free lock = %q", got)
	}
	tok, err := held.Lock(t.Context(), "job", "host-a/7", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := duohuo(exitOK, "lock", "status", "job"), `job: held by "host-a/7", token `; !strings.HasPrefix(got, want) || !strings.Contains(got, strconv.FormatInt(int64(tok), 10)) {
		t.Fatalf("status of a held lock = %q, want %q%d", got, want, tok)
	}
	duohuo(exitRuntime, "lock", "release", "job", "--value", "host-b/1")
	if got := duohuo(exitOK, "lock", "release", "job", "--value", "host-a/7"); got != "job: released\n" {
		t.Fatalf("release = %q", got)
	}
	got := duohuo(exitOK, "lock", "acquire", "job", "--value", "cli", "--ttl", "1s", "--hold", "1ms")
	if !regexp.MustCompile(`^job: acquired by "cli", token \d+\njob: released\n$`).MatchString(got) {
		t.Fatalf("acquire = %q", got)
	}
}

func TestLockCommandsUseTheLockToolsClientConfig(t *testing.T) {
	cf := lockClientFlags{endpoints: []string{"10.0.0.1:2379", "10.0.0.2:2379"}}
	got, want := cf.clientConfig(), etcdlock.ClientConfig(cf.endpoints)
	if got.DialKeepAliveTime <= 0 || got.DialKeepAliveTimeout <= 0 {
		t.Fatalf("lock commands' client keep-alive = %v/%v, want it set", got.DialKeepAliveTime, got.DialKeepAliveTimeout)
	}
	type settings struct {
		Endpoints                                          []string
		DialTimeout, KeepAliveTime, KeepAliveTimeout, Auto time.Duration
		PermitWithoutStream, RejectOldCluster              bool
	}
	of := func(c clientv3.Config) settings {
		return settings{c.Endpoints, c.DialTimeout, c.DialKeepAliveTime, c.DialKeepAliveTimeout, c.AutoSyncInterval, c.PermitWithoutStream, c.RejectOldCluster}
	}
	if diff := cmp.Diff(of(want), of(got)); diff != "" {
		t.Fatalf("lock commands' client config differs from etcdlock.ClientConfig (-want +got):\n%s", diff)
	}
}

// TestLockAcquireEndsWhenTheLockIsLost holds a lock with `lock acquire`
// (no --hold: until a signal) through a fault proxy, takes the lock away,
// and waits for the command to end on its own with the lost-lock status.
func TestLockAcquireEndsWhenTheLockIsLost(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{})
	cli := c.Client(t)
	tests := []struct {
		name string
		ttl  string
		lose func(t *testing.T, kv *mvccpb.KeyValue, px *tcpproxy.Proxy)
	}{
		{"the lease is revoked", "30s", func(t *testing.T, kv *mvccpb.KeyValue, _ *tcpproxy.Proxy) {
			if _, err := cli.Revoke(t.Context(), clientv3.LeaseID(kv.Lease)); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
		}},
		{"an operator releases the holder entry", "30s", func(t *testing.T, kv *mvccpb.KeyValue, _ *tcpproxy.Proxy) {
			var out, errb bytes.Buffer
			name := strings.Split(strings.TrimPrefix(string(kv.Key), "/duohuo/locks/"), "/")[0]
			if code := run([]string{"lock", "release", name, "--value", "cli", "--endpoints", c.Endpoints()[0]}, &out, &errb); code != exitOK {
				t.Fatalf("lock release: exit %d, stderr %q", code, errb.String())
			}
		}},
		{"the connection is silent for longer than the TTL", "2s", func(t *testing.T, _ *mvccpb.KeyValue, px *tcpproxy.Proxy) {
			if err := px.Set("silence", tcpproxy.Both, tcpproxy.Blackhole{}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px, err := tcpproxy.Listen("127.0.0.1:0", c.Endpoints()[0])
			if err != nil {
				t.Fatal(err)
			}
			defer px.Close()
			name := fmt.Sprintf("lost-%d", i)
			var out, errb syncBuffer
			done := make(chan int, 1)
			args := []string{"lock", "acquire", name, "--value", "cli", "--ttl", tt.ttl, "--endpoints", px.Addr().String()}
			go func() { done <- run(args, &out, &errb) }()
			// Held once the command says so.
			for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), "acquired"); time.Sleep(20 * time.Millisecond) {
				select {
				case code := <-done:
					t.Fatalf("duohuo %s: exit %d before the lock was taken (stderr %q)", strings.Join(args, " "), code, errb.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("the lock was not taken within a minute (stderr %q)", errb.String())
				}
			}
			resp, err := cli.Get(t.Context(), "/duohuo/locks/"+name+"/", clientv3.WithPrefix())
			if err != nil || len(resp.Kvs) != 1 {
				t.Fatalf("holder entries of %s: %v, %v; want one", name, resp, err)
			}
			held := resp.Kvs[0]
			tt.lose(t, held, px)
			select {
			case code := <-done:
				if code != exitLockLost {
					t.Fatalf("duohuo %s: exit %d, want %d (lock lost); stderr %q", strings.Join(args, " "), code, exitLockLost, errb.String())
				}
			case <-time.After(time.Minute):
				t.Fatalf("duohuo %s still holding a minute after the lock was lost; stdout %q", strings.Join(args, " "), out.String())
			}
			if got := errb.String(); !strings.Contains(got, name+": lock lost while held") {
				t.Errorf("stderr = %q, want it to say the lock was lost", got)
			}
			if got := out.String(); !strings.Contains(got, "acquired") || strings.Contains(got, "released") {
				t.Errorf("stdout = %q, want the acquire and no release", got)
			}
		})
	}
}
