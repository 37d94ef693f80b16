package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/color/grpccolor"
	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/grpctest"
)

// startGRPC serves svc (and grpc's health service, reporting hs) on a
// loopback port.
func startGRPC(t *testing.T, svc *grpctest.Service, hs healthpb.HealthCheckResponse_ServingStatus) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, svc)
	h := health.NewServer()
	h.SetServingStatus("", hs)
	healthpb.RegisterHealthServer(s, h)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// grpcClient dials the gateway over h2c.
func grpcClient(t *testing.T, g *gateway.Gateway) testgrpc.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(g.Addrs()[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testgrpc.NewTestServiceClient(cc)
}

func TestGRPCThroughGateway(t *testing.T) {
	v1 := &grpctest.Service{Name: "v1"}
	v2 := &grpctest.Service{Name: "v2"}
	a1 := startGRPC(t, v1, healthpb.HealthCheckResponse_SERVING)
	a2 := startGRPC(t, v2, healthpb.HealthCheckResponse_SERVING)
	g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: grpc
    discovery:
      - static:
          instances:
            - {addr: "%s", labels: {version: v1}}
            - {addr: "%s", labels: {version: v2}}
    health: {active: {type: grpc, interval: 200ms, timeout: 100ms, jitter: 10ms}}
gray: {trusted_networks: [127.0.0.0/8]}
routes:
  - name: all
    service: grpc
    timeout: 3s
    gray:
      subsets: [{name: stable, labels: {version: v1}}, {name: canary, labels: {version: v2}}]
      baseline: stable
      rules: [{subset: canary, headers: [{name: x-lane, exact: canary}]}]
`, a1, a2)), "")
	defer g.Shutdown(context.Background())
	c := grpcClient(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("unary, with headers and trailers from the instance", func(t *testing.T) {
		var hdr, trl metadata.MD
		resp, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 1000}, grpc.Header(&hdr), grpc.Trailer(&trl))
		if err != nil || len(resp.GetPayload().GetBody()) != 1000 {
			t.Fatalf("UnaryCall = %v, %v; want a 1000-byte payload", resp, err)
		}
		if got := trl.Get("x-trailer"); len(got) != 1 || got[0] != "kept" {
			t.Errorf("trailer x-trailer = %v, want [kept]", got)
		}
		if got := hdr.Get("x-served-by"); len(got) != 1 || got[0] != "v1" {
			t.Errorf("served by %v, want the baseline v1", got)
		}
	})
	t.Run("a status code and its message reach the client", func(t *testing.T) {
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: "no such item"}})
		if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such item" {
			t.Errorf("status = %v, want NotFound: no such item", err)
		}
	})
	t.Run("gray rules read gRPC metadata", func(t *testing.T) {
		var hdr metadata.MD
		mctx := metadata.AppendToOutgoingContext(ctx, "x-lane", "canary")
		if _, err := c.UnaryCall(mctx, &testgrpc.SimpleRequest{}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get("x-served-by"); len(got) != 1 || got[0] != "v2" {
			t.Errorf("a call with x-lane: canary was served by %v, want v2", got)
		}
	})
	t.Run("a color set by grpccolor on a trusted client picks its lane", func(t *testing.T) {
		prop, err := color.New(color.Config{})
		if err != nil {
			t.Fatal(err)
		}
		cc, err := grpc.NewClient(g.Addrs()[0], grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUnaryInterceptor(grpccolor.UnaryClientInterceptor(prop)))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		var hdr metadata.MD
		if _, err := testgrpc.NewTestServiceClient(cc).UnaryCall(color.WithLane(ctx, "canary"), &testgrpc.SimpleRequest{}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get("x-served-by"); len(got) != 1 || got[0] != "v2" {
			t.Errorf("a call colored canary was served by %v, want v2", got)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		st, err := c.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}, {Size: 20}, {Size: 30}}})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for {
			m, err := st.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, len(m.GetPayload().GetBody()))
		}
		if fmt.Sprint(sizes) != "[10 20 30]" {
			t.Errorf("streamed payload sizes %v, want [10 20 30]", sizes)
		}
	})
	t.Run("client streaming", func(t *testing.T) {
		st, err := c.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{100, 200, 300} {
			if err := st.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := st.CloseAndRecv()
		if err != nil || resp.GetAggregatedPayloadSize() != 600 {
			t.Errorf("StreamingInputCall = %v, %v; want 600", resp, err)
		}
	})
	t.Run("bidirectional streaming, message by message", func(t *testing.T) {
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 5; i++ {
			if err := st.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(i)}}}); err != nil {
				t.Fatal(err)
			}
			m, err := st.Recv() // the answer comes before the client sends the next
			if err != nil || len(m.GetPayload().GetBody()) != i {
				t.Fatalf("message %d: %v, %v", i, m, err)
			}
		}
		st.CloseSend()
		if _, err := st.Recv(); err != io.EOF {
			t.Errorf("end of stream = %v, want io.EOF", err)
		}
	})
	t.Run("the client's deadline is the call's deadline", func(t *testing.T) {
		dctx, dcancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "x-wait", "1"), 300*time.Millisecond)
		defer dcancel()
		start := time.Now()
		_, err := c.UnaryCall(dctx, &testgrpc.SimpleRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("waiting call = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2900*time.Millisecond {
			t.Errorf("the call took %v: the route timeout, not the client's deadline, ended it", d)
		}
	})
	t.Run("the route timeout is a DEADLINE_EXCEEDED status, not an HTTP page", func(t *testing.T) {
		_, err := c.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-wait", "1"), &testgrpc.SimpleRequest{})
		st := status.Convert(err)
		if st.Code() != codes.DeadlineExceeded || !strings.Contains(st.Message(), "timeout") {
			t.Errorf("call past the route timeout = %v, want DeadlineExceeded from the gateway", err)
		}
	})
}

// An instance answering UNAVAILABLE is retried on another when the route
// asks for it; when nothing can answer, the gateway's own status is
// UNAVAILABLE, in gRPC's form.
func TestGRPCUnavailableRetriedAndMade(t *testing.T) {
	// The draining instance answers 200ms after the call: a call the
	// instance ends before the gateway has read the end of the client's
	// request cannot be resent (docs/resilience.md), and a busy machine
	// can delay that read.
	bad := &grpctest.Service{Name: "bad", Unavailable: true, UnavailableAfter: 200 * time.Millisecond}
	good := &grpctest.Service{Name: "good"}
	ab := startGRPC(t, bad, healthpb.HealthCheckResponse_SERVING)
	ag := startGRPC(t, good, healthpb.HealthCheckResponse_SERVING)
	// A port nobody listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: grpc
    balancer: round_robin
    discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]
    health: {active: {type: none}, outlier: {consecutive_gateway_failures: 0, consecutive_5xx: 0}}
    breaker: {disabled: true}
  - name: gone
    discovery: [{static: {instances: [{addr: "%s"}]}}]
    health: {active: {type: none}}
routes:
  - name: gone
    match: {path_prefix: /grpc.testing.TestService/EmptyCall}
    service: gone
  - name: all
    service: grpc
    # A long status wait: on a busy machine the trailers of the draining
    # instance may come later than the default 100ms.
    retry: {attempts: 1, retry_on: [unavailable], status_wait: 10s, budget: {ratio: 1, min_per_second: 100}}
`, ab, ag, dead)), "")
	defer g.Shutdown(context.Background())
	c := grpcClient(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 10 {
		var hdr metadata.MD
		if _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 10}, grpc.Header(&hdr)); err != nil {
			t.Fatalf("call %d = %v, want success from the instance that is not draining", i, err)
		}
		if got := hdr.Get("x-served-by"); len(got) != 1 || got[0] != "good" {
			t.Errorf("call %d served by %v, want good", i, got)
		}
	}
	if bad.Calls() == 0 {
		t.Errorf("the draining instance got no call: the retry was not exercised")
	}
	_, err := c.EmptyCall(ctx, &testgrpc.Empty{})
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "duohuo") {
		t.Errorf("call to a service that cannot be reached = %v, want the gateway's UNAVAILABLE", err)
	}
}

// A gRPC instance whose health service says NOT_SERVING is taken out by
// the gRPC health checks; the SERVING one takes every call.
func TestGRPCHealthProbe(t *testing.T) {
	up := &grpctest.Service{Name: "up"}
	down := &grpctest.Service{Name: "down"}
	au := startGRPC(t, up, healthpb.HealthCheckResponse_SERVING)
	ad := startGRPC(t, down, healthpb.HealthCheckResponse_NOT_SERVING)
	g := start(t, parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: grpc
    discovery: [{static: {instances: [{addr: "%s"}, {addr: "%s"}]}}]
    health: {active: {type: grpc, interval: 100ms, timeout: 50ms, jitter: 10ms, unhealthy_threshold: 1}}
routes: [{name: all, service: grpc}]
`, au, ad)), "")
	defer g.Shutdown(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := g.Services()[0]
		statuses := map[string]string{}
		for _, in := range st.Instances {
			statuses[in.Addr.String()] = in.Status
		}
		if statuses[ad] == "unhealthy" && statuses[au] == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance statuses %v, want %s unhealthy (NOT_SERVING) and %s healthy", statuses, ad, au)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := grpcClient(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 10 {
		if _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if down.Calls() != 0 {
		t.Errorf("the NOT_SERVING instance got %d calls, want 0", down.Calls())
	}
}
