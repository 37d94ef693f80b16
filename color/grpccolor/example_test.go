package grpccolor_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/color/grpccolor"
)

type laneReporter struct {
	healthpb.UnimplementedHealthServer
}

func (laneReporter) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	lane, _ := color.FromContext(ctx)
	fmt.Printf("server: lane %q\n", lane)
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// A lane in the caller's context travels to the server over gRPC.
func Example() {
	p, err := color.New(color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(grpccolor.UnaryServerInterceptor(p)))
	healthpb.RegisterHealthServer(srv, laneReporter{})
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(lis) }()
	defer func() { srv.Stop(); <-done }()

	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(grpccolor.UnaryClientInterceptor(p)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for _, ctx := range []context.Context{color.WithLane(context.Background(), "gray"), context.Background()} {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Output:
	// server: lane "gray"
	// server: lane ""
}
