package etcdtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/internal/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, etcdtest.LeakOptions()...) }

func TestThreeMembersSurviveLeaderKillAndRestart(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{Members: 3})
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	if _, err := cli.Put(ctx, "k", "v1"); err != nil {
		t.Fatalf("Put before kill: %v", err)
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatalf("Leader: %v", err)
	}
	c.Kill(leader)
	if c.Running(leader) {
		t.Fatalf("Running(%d) after Kill = true, want false", leader)
	}
	next, err := c.Leader(ctx)
	if err != nil {
		t.Fatalf("Leader after kill: %v", err)
	}
	if next == leader {
		t.Fatalf("Leader after killing %d = %d, want another member", leader, next)
	}
	if _, err := cli.Put(ctx, "k", "v2"); err != nil {
		t.Fatalf("Put with 2 of 3 members: %v", err)
	}
	if err := c.Restart(leader); err != nil {
		t.Fatalf("Restart(%d): %v", leader, err)
	}
	if err := c.Restart(leader); err == nil {
		t.Fatalf("Restart of a running member: got nil error, want one")
	}
	resp, err := cli.Get(ctx, "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v2" {
		t.Fatalf("Get after restart = %v, %v; want v2", resp, err)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  etcdtest.Config
	}{
		{"two members are not a supported size", etcdtest.Config{Members: 2, Dir: t.TempDir()}},
		{"a missing data directory is refused", etcdtest.Config{Members: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := etcdtest.Start(tt.cfg); err == nil {
				c.Close()
				t.Fatalf("Start(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

func TestLeaderTimesOutWithoutQuorum(t *testing.T) {
	c := etcdtest.New(t, etcdtest.Config{Members: 1})
	c.Kill(0)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Leader(ctx); !errors.Is(err, etcdtest.ErrNoLeader) {
		t.Fatalf("Leader with no member running: err = %v, want ErrNoLeader", err)
	}
}

func TestProxiedPutsAFaultProxyBeforeEveryMember(t *testing.T) {
	c := etcdtest.NewProxied(t, etcdtest.Config{})
	if got, want := c.Endpoints()[0], c.ClientProxy(0).Addr().String(); got != want {
		t.Fatalf("Endpoints()[0] = %s, want the client proxy %s", got, want)
	}
	cli := c.Client(t)
	if _, err := cli.Put(t.Context(), "k", "v1"); err != nil {
		t.Fatalf("Put through the proxy: %v", err)
	}
	if err := c.ClientProxy(0).Set("cut", tcpproxy.Both, tcpproxy.Blackhole{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	_, err := cli.Put(ctx, "k", "v2")
	cancel()
	if err == nil {
		t.Fatalf("Put through a blackholed client proxy succeeded")
	}
	c.Kill(0)
	if err := c.Heal(); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	if !c.Running(0) || len(c.ClientProxy(0).Toxics()) != 0 {
		t.Fatalf("after Heal: running %v, toxics %v; want running, none", c.Running(0), c.ClientProxy(0).Toxics())
	}
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v3"); err != nil {
		t.Fatalf("Put after Heal: %v", err)
	}
}
