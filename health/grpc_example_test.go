package health_test

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/health"
)

// A gRPC probe calls grpc.health.v1.Health/Check on every instance and
// passes only on SERVING; here against grpc-go's own health service.
func ExampleProbeConfig_grpc() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := grpc.NewServer()
	hs := grpchealth.NewServer() // SERVING for the server as a whole
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	defer srv.Stop()

	tr, err := health.New(health.Config{Probe: health.ProbeConfig{
		GRPC:               true, // GRPCService "" asks about the server as a whole
		Interval:           500 * time.Millisecond,
		Jitter:             -1,
		UnhealthyThreshold: 1,
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	tr.Update(discovery.ServiceView{Service: "cart", Instances: []discovery.Instance{
		{ID: "a", Addr: netip.MustParseAddrPort(ln.Addr().String()), Weight: 100},
	}})
	<-tr.Changes()
	fmt.Println(tr.Snapshot()[0].Status)

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	<-tr.Changes() // the next probe fails
	s, _ := tr.State("a")
	fmt.Println(s.Status, s.Weight)
	// Output:
	// healthy
	// unhealthy 0
}
