// Package toxiapi serves Toxiproxy's HTTP API (version 2.5.0) over
// [tcpproxy] proxies, so that Toxiproxy clients and the test suites written
// with them work unchanged against duohuo.
//
// A [Server] is an http.Handler managing many proxies by name:
//
//	s := toxiapi.New(toxiapi.Config{})
//	defer s.Close() // closes every proxy and its port
//	srv := &http.Server{Addr: "127.0.0.1:8474", Handler: s}
//	go srv.ListenAndServe()
//
// The routes, JSON shapes, status codes and error bodies
// ({"error": "proxy not found", "status": 404}) are Toxiproxy's:
//
//	GET  /proxies                  POST   /proxies             POST /populate
//	GET  /proxies/{proxy}          POST   /proxies/{proxy}     DELETE /proxies/{proxy}
//	GET  /proxies/{proxy}/toxics   POST   /proxies/{proxy}/toxics
//	GET  /proxies/{proxy}/toxics/{toxic}  POST /proxies/{proxy}/toxics/{toxic}
//	DELETE /proxies/{proxy}/toxics/{toxic}
//	POST /reset                    GET    /version
//
// Toxic types and their attributes map onto tcpproxy's toxics: latency
// (latency, jitter ms) → [tcpproxy.Latency], bandwidth (rate KB/s) →
// [tcpproxy.Bandwidth], slow_close (delay ms) → [tcpproxy.SlowClose],
// timeout (timeout ms) → [tcpproxy.Timeout], reset_peer (timeout ms) →
// [tcpproxy.ResetPeer], slicer (average_size, size_variation bytes, delay
// µs) → [tcpproxy.Slicer], limit_data (bytes) → [tcpproxy.LimitData], and
// noop. Where tcpproxy's semantics differ from Toxiproxy's, the package
// documentation of tcpproxy and docs/fault.md say how.
//
// Unlike Toxiproxy, the server keeps proxies on loopback unless
// [Config.AllowRemote] is set, bounds request bodies, and rejects negative
// attributes with 400 rather than treating them as zero.
package toxiapi
