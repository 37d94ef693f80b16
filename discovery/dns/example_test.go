package dns_test

import (
	"fmt"
	"net"

	mdns "github.com/miekg/dns"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/dns"
)

func ExampleNewSource() {
	// A DNS server on loopback that answers like CoreDNS for a Kubernetes
	// headless service: SRV records with the addresses alongside.
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	mux := mdns.NewServeMux()
	mux.HandleFunc("svc.test.", func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		for i, ip := range []string{"10.0.0.1", "10.0.0.2"} {
			srv, _ := mdns.NewRR(fmt.Sprintf("_http._tcp.api.svc.test. 30 IN SRV 0 50 8080 pod%d.api.svc.test.", i))
			a, _ := mdns.NewRR(fmt.Sprintf("pod%d.api.svc.test. 30 IN A %s", i, ip))
			m.Answer, m.Extra = append(m.Answer, srv), append(m.Extra, a)
		}
		_ = w.WriteMsg(m)
	})
	server := &mdns.Server{PacketConn: pc, Handler: mux}
	go server.ActivateAndServe()
	defer server.Shutdown()

	src, err := dns.NewSource(dns.Config{
		Service:  "api",
		Name:     "_http._tcp.api.svc.test",
		Servers:  []string{pc.LocalAddr().String()},
		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	agg := discovery.NewAggregator(discovery.AggregatorConfig{})
	defer agg.Close()
	changes, cancel := agg.Subscribe()
	defer cancel()
	_ = agg.Add(src)
	for agg.View("api") == nil {
		<-changes
	}
	for _, in := range agg.View("api").Instances {
		fmt.Println(in.Addr, in.Weight, in.Locality, in.Source)
	}
	// Output:
	// 10.0.0.1:8080 50 ctyun/cn-north-1 dns:_http._tcp.api.svc.test
	// 10.0.0.2:8080 50 ctyun/cn-north-1 dns:_http._tcp.api.svc.test
}
