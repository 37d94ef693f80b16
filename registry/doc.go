// Package registry is where a service registers itself, so that gateways
// (and its other clients) discover it: the counterpart of the discovery
// sources. Each registry has its own subpackage, which keeps its client
// library out of programs that do not use it:
//
//   - [github.com/duohuo/duohuo/registry/etcd]: a key under a prefix,
//     attached to a lease kept alive, in the layout discovery/etcd reads.
//   - [github.com/duohuo/duohuo/registry/nacos]: an ephemeral Nacos
//     instance kept alive by heartbeats (the v1 open API), as
//     discovery/nacos reads it.
//   - [github.com/duohuo/duohuo/registry/consul]: a service on a Consul
//     agent with a TTL check passed periodically and removed by the agent
//     once critical, as discovery/consul reads it.
//
// A registration lasts until it is closed: Close deregisters at once (a
// graceful shutdown takes the instance out before it stops answering),
// and a process that dies without closing is taken out by the registry
// when its lease, check or heartbeat runs out.
package registry
