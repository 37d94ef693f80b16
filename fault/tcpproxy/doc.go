// Package tcpproxy is a TCP proxy for tests and drills that injects network
// faults at run time: the "toxics" that Toxiproxy users know, as a Go
// library with no server to run.
//
// A [Proxy] listens on a local address in front of one upstream server. Point
// the client under test at [Proxy.Addr] and break the network between them:
//
//	p, err := tcpproxy.Listen("127.0.0.1:0", etcdAddr)
//	if err != nil { … }
//	defer p.Close()
//	cli := connect(p.Addr().String())
//
//	p.Set("slow", tcpproxy.Both, tcpproxy.Latency{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond})
//	p.Set("thin", tcpproxy.Downstream, tcpproxy.Bandwidth{BytesPerSecond: 64 << 10})
//	p.Set("cut", tcpproxy.Both, tcpproxy.Blackhole{})       // partition: data vanishes, sockets stay open
//	p.Set("rst", tcpproxy.Downstream, tcpproxy.ResetPeer{}) // client sees ECONNRESET
//	p.Set("short", tcpproxy.Upstream, tcpproxy.LimitData{Bytes: 1024})
//	p.Set("hang", tcpproxy.Downstream, tcpproxy.Timeout{After: 5 * time.Second}) // silence, then FIN
//	p.Set("late", tcpproxy.Downstream, tcpproxy.SlowClose{Delay: time.Second})
//	p.Set("bits", tcpproxy.Downstream, tcpproxy.Slicer{AverageSize: 64, SizeVariation: 32})
//	p.Refuse(true)  // the port refuses new connections (ECONNREFUSED)
//	p.ResetConns()  // RST every open connection now
//	p.Clear()       // back to a clean wire
//
// Directions follow Toxiproxy: [Upstream] is client → server, [Downstream]
// server → client. Toxic changes take effect on open connections (from the
// next chunk of data), as Toxiproxy's do; [Proxy.Refuse] affects only new
// connections. [Proxy.SetNamed] takes a toxicity, the fraction of
// connections poisoned, drawn once per connection as in Toxiproxy.
//
// [ParseToxic] reads a compact text form of a toxic ("latency:50ms:10ms@both",
// "blackhole@upstream"), and [Proxy.AdminHandler] serves a small HTTP API in
// the manner of Toxiproxy's; `duohuo chaos proxy` runs a proxy with both.
//
// With no toxics set the proxy adds a few tens of microseconds to a loopback
// round trip (see BenchmarkRoundTrip). [Proxy.Close] closes every connection
// and waits for every goroutine the proxy started.
package tcpproxy
