package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	mdns "github.com/miekg/dns"
)

// startDNS serves A records for name → 127.0.0.1 on a loopback UDP port.
func startDNS(t *testing.T, name string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := mdns.NewServeMux()
	mux.HandleFunc(name, func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if r.Question[0].Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
				A:   net.ParseIP("127.0.0.1"),
			})
		}
		w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &mdns.Server{PacketConn: pc, Handler: mux, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() { defer close(done); srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return pc.LocalAddr().String()
}

// A service discovered through DNS A records serves through the gateway.
func TestDNSDiscoveredService(t *testing.T) {
	up := upstream(t, "from-dns")
	_, port, _ := net.SplitHostPort(up)
	resolver := startDNS(t, "api.duohuo.test.")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery:
      - dns: {name: api.duohuo.test, type: a, port: %s, resolver: "%s", cloud: ctyun}
routes: [{name: all, service: api}]
`, port, resolver)
	g := start(t, parse(t, cfg), "")
	defer g.Shutdown(context.Background())
	resp, err := http.Get("http://" + g.Addrs()[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "from-dns" {
		t.Errorf("GET through a DNS-discovered service = %d %q, want 200 from-dns", resp.StatusCode, b)
	}
}
