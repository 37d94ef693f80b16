package etcdlock

import (
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The gRPC keep-alive of [ClientConfig]: how a client finds out that its
// connection to a member has gone silent (the member is partitioned away,
// its host froze, a firewall dropped the flow) without waiting for TCP to
// give up, which takes many minutes.
const (
	// KeepAliveTime is how long a connection with calls or streams open
	// may go without a frame from the server before the client pings it.
	// It is gRPC's floor: grpc-go raises any shorter client setting to
	// 10 s. It also stays above etcd's --grpc-keepalive-min-time (5 s by
	// default), under which the server closes the connection for pinging
	// too often.
	KeepAliveTime = 10 * time.Second
	// KeepAliveTimeout is how long the client waits for the ping's answer
	// before it closes the connection. A live member answers a ping from
	// its transport, without Raft, in one round trip: 3 s leaves a wide
	// margin even across regions.
	KeepAliveTimeout = 3 * time.Second
	// DeadConnTimeout bounds how long a silent connection keeps the calls
	// and streams on it: then the client closes it, the calls fail and the
	// session's keep-alive stream moves to another endpoint. A lock
	// survives the silence of one member only if its TTL is longer than
	// this plus a reconnect (about a second): use a TTL of 15 s or more
	// where that matters.
	DeadConnTimeout = KeepAliveTime + KeepAliveTimeout
)

// ClientConfig returns the etcd client configuration of duohuo's lock tools
// (the duohuo command's `lock` subcommands and package lock/linearize) for
// endpoints, so that all of them meet a dead connection the same way. It
// is a preset to adjust, not a requirement of [Session] or [Mutex]; every
// value is chosen as follows:
//
//   - DialTimeout 5 s: a member that does not complete a connection in 5 s
//     on a network that should take milliseconds is not worth waiting for;
//     the client uses the others.
//   - DialKeepAliveTime [KeepAliveTime] and DialKeepAliveTimeout
//     [KeepAliveTimeout]: without them a call or a lease keep-alive stream
//     on a connection that went silent hangs until its own deadline, and a
//     session loses its lease even though other members stay reachable.
//   - PermitWithoutStream false: etcd servers count pings on a connection
//     with nothing open as abuse and close it (their keep-alive enforcement
//     never permits them), which would make idle connections churn. A
//     session always has its keep-alive stream open, so the connection it
//     depends on is watched.
//   - AutoSyncInterval 0: the client keeps the endpoints it was given.
//     Members advertise the client URLs they were configured with, which
//     are not always reachable from where the client runs (NAT, proxies,
//     names internal to another network).
//   - RejectOldCluster false: the version check asks every endpoint at
//     start and fails if any one does not answer, so a client could not
//     start while one member is down, which is when a lock matters most.
//     The lock uses only what every etcd v3 server has: transactions,
//     leases and watches.
//   - Logger: discarded. The client's errors reach its callers; its own
//     logs (retries, balancer changes) would only interleave with theirs.
func ClientConfig(endpoints []string) clientv3.Config {
	return clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    KeepAliveTime,
		DialKeepAliveTimeout: KeepAliveTimeout,
		PermitWithoutStream:  false,
		AutoSyncInterval:     0,
		RejectOldCluster:     false,
		Logger:               zap.NewNop(),
	}
}
