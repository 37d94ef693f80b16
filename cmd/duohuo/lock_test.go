package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
