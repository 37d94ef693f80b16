// Package nacostest is a fake Nacos server for tests: a real HTTP server on
// loopback (net/http/httptest) that answers the parts of the Nacos open API
// a discovery client uses, following the server's documented and observed
// behaviour.
//
// It is a fake because no Nacos server (a Java program) can run in duohuo's
// tests. Each rule it follows cites the Nacos server code or issue it comes
// from, next to the code:
//   - GET /nacos/v1/ns/instance/list answers a service's enabled instances
//     with Nacos's protect threshold applied ([Server.SetProtectThreshold]);
//   - POST /nacos/v1/auth/login grants tokens that expire after TokenTTL
//     and are checked on every list when authentication is on;
//   - GET /nacos/v2/ns/instance/list answers 410 Gone, as a Nacos 3.x
//     server does by default, and so does v1 when Config.V1Disabled says
//     its compatibility switch is off;
//   - [Server.SetRestarting] makes lists empty, as a restarting member
//     answers; [Server.Hang] makes requests hang until the client gives up.
//
// Usage:
//
//	srv := nacostest.NewServer(nacostest.Config{})
//	defer srv.Close()
//	srv.Set("", "", "api", nacostest.Instance("10.0.0.1:8080"))
//	src, _ := nacos.NewSource(nacos.Config{Service: "api", Servers: []string{srv.Addr()}})
package nacostest
