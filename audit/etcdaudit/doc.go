// Package etcdaudit records the calls of an etcd client (go.etcd.io/etcd
// client/v3) in an audit log: gRPC client interceptors, unary and stream,
// that note each call's method, key range (redacted), principal, outcome
// and latency, and hand the record to a [Sink] — normally an *audit.Log,
// whose SM3 hash chain makes the log tamper-evident.
//
// Recording never blocks or fails an RPC: the Sink takes the record or
// drops it (and counts the drop). Values are never recorded, only keys.
//
//	log, err := audit.Open(path, audit.Options{})
//	a, err := etcdaudit.New(etcdaudit.Config{Sink: log, Principal: "orders-svc"})
//	cli, err := clientv3.New(clientv3.Config{
//		Endpoints:   endpoints,
//		DialOptions: a.DialOptions(),
//	})
//	…
//	ctx = etcdaudit.WithPrincipal(ctx, "alice") // per call, overrides Config.Principal
//	cli.Put(ctx, "/config/db/password", pw)     // recorded as /config/db/[secret]
//
// Streams produce one record when opened ("open"), one per watch created
// on them ("send"), and one when they end ("close", latency = lifetime);
// keep-alive messages are not recorded.
package etcdaudit
