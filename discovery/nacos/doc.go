// Package nacos is a discovery source that follows a service registered in
// Nacos (2.x and 3.x) by polling its HTTP open API,
// GET /nacos/v1/ns/instance/list.
//
// A [Source] follows one Nacos service (namespace, group, name, optionally
// some clusters) as the instances of one duohuo service. It logs in when
// credentials are given and renews the token before it expires, fails over
// between several servers, maps Nacos's decimal weights to duohuo's integer
// weights without losing their ratios, leaves out disabled and unhealthy
// instances, and turns Nacos's protect threshold (which reports unhealthy
// instances as healthy) into [discovery.Instance.HealthUnknown]. An empty
// list for a service that had instances, which is what a restarting Nacos
// member answers, is held back for a grace period while the last good
// instances keep serving.
//
//	src, err := nacos.NewSource(nacos.Config{
//		Service:   "api",
//		Servers:   []string{"10.0.0.1:8848", "10.0.0.2:8848", "10.0.0.3:8848"},
//		Namespace: "prod",
//		Group:     "shop",
//		Name:      "api-service",
//		Username:  "duohuo",
//		Password:  os.Getenv("NACOS_PASSWORD"),
//	})
//	if err != nil {
//		return err
//	}
//	agg.Add(src)
//
// Why HTTP and not gRPC: Nacos 3.x still serves the v1 open API by default
// (nacos.core.api.compatibility.client.enabled=true); the v2 HTTP API answers
// 410 Gone there and is not used. The gRPC subscription (port 9848) would
// deliver changes sooner, but the Nacos Go SDK delivers no pushes for empty
// lists by default, runs no periodic full read, and would add its
// dependencies to the binary; a poll every Interval (10s) is the full read a
// push client needs as its safety net anyway. See docs/discovery.md.
//
// The package [github.com/duohuo/duohuo/discovery/nacos/nacostest] is a fake
// Nacos server for tests.
package nacos
