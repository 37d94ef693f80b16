// Package consultest is a fake Consul HTTP API for tests: a real HTTP
// server on loopback (net/http/httptest) that answers
// GET /v1/health/service/:service with blocking queries, following
// Consul's documented behaviour.
//
// It is a fake because no Consul agent can run in duohuo's tests. Each rule
// it follows cites Consul's documentation next to the code (the
// blocking-query page, api-docs/features/blocking.mdx, and the health
// endpoint, api-docs/health.mdx):
//   - X-Consul-Index on every answer; ?index= blocks until the service
//     changes or ?wait= (default 5m, at most 10m, plus up to wait/16 of
//     jitter) runs out, and then answers the same data and index;
//   - [Server.Restore] makes the index go backwards, as a restored Raft
//     snapshot does; [Server.ZeroIndex] answers X-Consul-Index 0, as some
//     older Consul versions did; [Server.Churn] moves the index on every
//     answer, as on a busy cluster;
//   - an ACL token, when configured, is required in X-Consul-Token;
//   - [Server.Hang] makes requests hang until the client gives up.
//
// Usage:
//
//	srv := consultest.NewServer(consultest.Config{})
//	defer srv.Close()
//	srv.Set("api", consultest.Instance("10.0.0.1:8080"))
//	src, _ := consul.NewSource(consul.Config{Service: "api", Servers: []string{srv.Addr()}})
package consultest
