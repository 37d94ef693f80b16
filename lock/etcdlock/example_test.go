package etcdlock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

// A holder takes the lock and writes through a fence kept in etcd; a write
// carrying an older token (a holder that was paused past its lease) is
// refused.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := cluster.NewClient() // any *clientv3.Client; here a test cluster
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer cli.Close()

	s, err := etcdlock.NewSession(ctx, cli, etcdlock.WithTTL(5*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer s.Close()
	held, err := etcdlock.NewMutex(s, "/example/report", "host-a").Lock(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer held.Unlock(context.WithoutCancel(ctx))

	fence := etcdlock.Fence{KV: cli, Key: "/example/report.fence"}
	_, err = fence.Txn(ctx, held.Token(), clientv3.OpPut("/example/report.data", "v1"))
	fmt.Println("current holder's write:", err)
	_, err = fence.Txn(ctx, held.Token()-1, clientv3.OpPut("/example/report.data", "stale"))
	fmt.Println("stale token refused:", errors.Is(err, lock.ErrStaleToken))
	// Output:
	// current holder's write: <nil>
	// stale token refused: true
}

// Connect with the lock tools' client settings, adjusted where a program
// needs to, and hold a lock with a TTL that outlasts a dead connection to
// one member.
func ExampleClientConfig() {
	cfg := etcdlock.ClientConfig(cluster.Endpoints()) // e.g. []string{"10.0.0.1:2379", "10.0.0.2:2379"}
	cfg.DialTimeout = 2 * time.Second                 // members are near; TLS and credentials go here too
	cli, err := clientv3.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := etcdlock.NewSession(ctx, cli, etcdlock.WithTTL(etcdlock.DeadConnTimeout+5*time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer s.Close()
	held, err := etcdlock.NewMutex(s, "/example/client-config", "host-a").Lock(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println("TTL:", s.TTL(), "unlock:", held.Unlock(ctx))
	// Output:
	// TTL: 18s unlock: <nil>
}
