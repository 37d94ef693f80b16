package etcdlock_test

import (
	"context"
	"errors"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/duohuo/duohuo/fault/tcpproxy"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

func TestClientConfigWatchesConnections(t *testing.T) {
	cfg := etcdlock.ClientConfig([]string{"a:2379", "b:2379"})
	if cfg.DialKeepAliveTime != etcdlock.KeepAliveTime || cfg.DialKeepAliveTimeout != etcdlock.KeepAliveTimeout {
		t.Errorf("keep-alive = %v/%v, want %v/%v", cfg.DialKeepAliveTime, cfg.DialKeepAliveTimeout, etcdlock.KeepAliveTime, etcdlock.KeepAliveTimeout)
	}
	if cfg.DialKeepAliveTime <= 0 || cfg.DialKeepAliveTimeout <= 0 || cfg.DialTimeout <= 0 {
		t.Errorf("dial timeout %v, keep-alive %v/%v: want all set", cfg.DialTimeout, cfg.DialKeepAliveTime, cfg.DialKeepAliveTimeout)
	}
	if cfg.PermitWithoutStream || cfg.RejectOldCluster || cfg.AutoSyncInterval != 0 {
		t.Errorf("PermitWithoutStream %v, RejectOldCluster %v, AutoSyncInterval %v: want false, false, 0",
			cfg.PermitWithoutStream, cfg.RejectOldCluster, cfg.AutoSyncInterval)
	}
	if len(cfg.Endpoints) != 2 || cfg.Logger == nil {
		t.Errorf("endpoints %v, logger %v: want the two given and a logger", cfg.Endpoints, cfg.Logger)
	}
}

// TestClientConfigNoticesASilentConnection puts a fault proxy between the
// client and etcd and makes it stop forwarding, both ways, with the
// connection left open: what a partition or a frozen host looks like. A
// call in flight must fail once the keep-alive gives up on the connection,
// not hang until its own deadline, which is set far beyond
// DeadConnTimeout.
func TestClientConfigNoticesASilentConnection(t *testing.T) {
	px, err := tcpproxy.Listen("127.0.0.1:0", cluster.Endpoints()[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	cli, err := clientv3.New(etcdlock.ClientConfig([]string{px.Addr().String()}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	if _, err := cli.Put(t.Context(), "/silent/k", "v1"); err != nil {
		t.Fatalf("Put before the silence: %v", err)
	}
	if err := px.Set("silence", tcpproxy.Both, tcpproxy.Blackhole{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*etcdlock.DeadConnTimeout)
	defer cancel()
	_, err = cli.Put(ctx, "/silent/k", "v2")
	if err == nil {
		t.Fatalf("Put through a silent connection succeeded")
	}
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		t.Fatalf("Put hung until its deadline (%v): the client did not notice the silent connection: %v", 10*etcdlock.DeadConnTimeout, err)
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Put error = %v (code %v), want Unavailable from the closed connection", err, status.Code(err))
	}
}
