// Package consul is a discovery source that follows a service registered in
// Consul, with blocking queries on GET /v1/health/service/:service.
//
// A [Source] follows one Consul service (optionally in another datacenter,
// optionally only the instances with some tags) as the instances of one
// duohuo service. It keeps passing instances, keeps or leaves out warning
// ones as configured, honours Service.Weights (passing and warning
// weights), takes locality from service or node meta, sends an ACL token,
// and follows Consul's rules for blocking queries: the index is reset when
// it goes backwards and is never below 1, and the loop is rate-limited with
// a token bucket of burst 2.
//
//	src, err := consul.NewSource(consul.Config{
//		Service: "api",
//		Servers: []string{"127.0.0.1:8500"}, // the local agent
//		Tags:    []string{"prod"},
//		Token:   os.Getenv("CONSUL_HTTP_TOKEN"),
//	})
//	if err != nil {
//		return err
//	}
//	agg.Add(src)
//
// The package [github.com/duohuo/duohuo/discovery/consul/consultest] is a
// fake Consul agent for tests.
package consul
