package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/grpctest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// newGRPCUpstream starts grpc-go's server with grpctest.Service, permitting the
// transport's health-check pings (see TransportOptions.PingInterval).
func newGRPCUpstream(t *testing.T) string {
	t.Helper()
	return newGRPCUpstreamPermitting(t, 10*time.Second)
}

// grpcThroughGateway returns a grpc-go client of grpctest.Service through the
// minimal gateway handler, whose upstream transport uses protocol.
func grpcThroughGateway(t *testing.T, protocol string) testgrpc.TestServiceClient {
	t.Helper()
	up := newGRPCUpstream(t)
	gw := newH2CServer(t, handlerFor(t, newForwarderWith(t, TransportOptions{Protocol: protocol}), up))
	return newGRPCClient(t, gw.Listener.Addr().String())
}

func TestGRPCCallsThroughGateway(t *testing.T) {
	for _, protocol := range []string{ProtocolAuto, ProtocolH2C} {
		client := grpcThroughGateway(t, protocol)
		ctx := context.Background()
		t.Run(protocol+"/unary", func(t *testing.T) {
			var trailer metadata.MD
			resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 300 << 10}, grpc.Trailer(&trailer))
			if err != nil || len(resp.GetPayload().GetBody()) != 300<<10 {
				t.Fatalf("UnaryCall = %d bytes, %v; want %d bytes", len(resp.GetPayload().GetBody()), err, 300<<10)
			}
			if got := trailer["x-trailer"]; len(got) != 1 || got[0] != "kept" {
				t.Errorf("trailer x-trailer = %q, want [kept]", got)
			}
		})
		t.Run(protocol+"/server streaming", func(t *testing.T) {
			sizes := []int32{1, 70 << 10, 0, 5}
			var params []*testgrpc.ResponseParameters
			for _, s := range sizes {
				params = append(params, &testgrpc.ResponseParameters{Size: s})
			}
			stream, err := client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: params})
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range sizes {
				resp, err := stream.Recv()
				if err != nil || len(resp.GetPayload().GetBody()) != int(want) {
					t.Fatalf("message %d = %d bytes, %v; want %d bytes", i, len(resp.GetPayload().GetBody()), err, want)
				}
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Errorf("after the last message: %v, want io.EOF", err)
			}
		})
		t.Run(protocol+"/client streaming", func(t *testing.T) {
			stream, err := client.StreamingInputCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var want int32
			for _, n := range []int{27182, 8, 1828, 45904} {
				want += int32(n)
				if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, n)}}); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := stream.CloseAndRecv()
			if err != nil || resp.GetAggregatedPayloadSize() != want {
				t.Fatalf("StreamingInputCall = %d, %v; want %d", resp.GetAggregatedPayloadSize(), err, want)
			}
		})
		// Each reply is awaited before the next request is sent: the
		// upstream's answers must reach the client while the request
		// stream is still open.
		t.Run(protocol+"/bidi streaming", func(t *testing.T) {
			stream, err := client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range []int32{31415, 9, 2653, 58979} {
				if err := stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: n}}}); err != nil {
					t.Fatal(err)
				}
				resp, err := stream.Recv()
				if err != nil || len(resp.GetPayload().GetBody()) != int(n) {
					t.Fatalf("reply %d = %d bytes, %v; want %d bytes", i, len(resp.GetPayload().GetBody()), err, n)
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Errorf("after CloseSend: %v, want io.EOF", err)
			}
		})
		t.Run(protocol+"/status, message and trailer metadata", func(t *testing.T) {
			var trailer metadata.MD
			_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "quota 100% used: ✗"}}, grpc.Trailer(&trailer))
			if st := status.Convert(err); st.Code() != codes.FailedPrecondition || st.Message() != "quota 100% used: ✗" {
				t.Errorf("UnaryCall status = %v %q, want FailedPrecondition %q", st.Code(), st.Message(), "quota 100% used: ✗")
			}
			if got := trailer["x-trailer"]; len(got) != 1 || got[0] != "kept" {
				t.Errorf("trailer x-trailer = %q, want [kept]", got)
			}
			if got := trailer["x-bin-bin"]; len(got) != 1 || got[0] != "\x00\x01" {
				t.Errorf("binary trailer x-bin-bin = %q, want [\"\\x00\\x01\"]", got)
			}
		})
		t.Run(protocol+"/status after streamed messages", func(t *testing.T) {
			stream, err := client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}}})
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.Aborted), Message: "conflict"}})
			_, err = stream.Recv()
			if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "conflict" {
				t.Errorf("stream status = %v %q, want Aborted conflict", st.Code(), st.Message())
			}
		})
		t.Run(protocol+"/deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "x-wait", "1"), 100*time.Millisecond)
			defer cancel()
			_, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
			if st := status.Convert(err); st.Code() != codes.DeadlineExceeded {
				t.Errorf("UnaryCall past its deadline = %v, want DeadlineExceeded", err)
			}
		})
	}
}

// An upstream's trailers-only answer (an unknown method) leaves the gateway
// as the one HEADERS frame it came as.
func TestGRPCTrailersOnlyThroughGateway(t *testing.T) {
	up := newGRPCUpstream(t)
	gw := newH2CServer(t, handlerFor(t, newForwarderWith(t, TransportOptions{Protocol: ProtocolH2C}), up))
	if got := streamFrames(t, gw.Listener.Addr().String(), "/grpc.testing.TestService/NoSuchMethod"); len(got) != 1 || got[0] != "HEADERS+END_STREAM" {
		t.Errorf("frames on the stream = %v, want [HEADERS+END_STREAM]", got)
	}
	client := newGRPCClient(t, gw.Listener.Addr().String())
	_, err := client.UnimplementedCall(context.Background(), &testgrpc.Empty{})
	if st := status.Convert(err); st.Code() != codes.Unimplemented {
		t.Errorf("UnimplementedCall = %v, want Unimplemented", err)
	}
}

// Quiet gRPC streams outlive many ping intervals when the upstream permits
// the pings: the health check must not cut a healthy stream.
func TestGRPCQuietStreamSurvivesPings(t *testing.T) {
	up := newGRPCUpstreamPermitting(t, 10*time.Millisecond)
	f := newForwarderWith(t, TransportOptions{Protocol: ProtocolH2C, PingInterval: 20 * time.Millisecond})
	gw := newH2CServer(t, handlerFor(t, f, up))
	client := newGRPCClient(t, gw.Listener.Addr().String())
	stream, err := client.FullDuplexCall(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		// Quiet for about ten ping intervals. Only a longer pause could
		// make this test pass wrongly.
		time.Sleep(200 * time.Millisecond)
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("reply %d after a quiet spell: %v", i, err)
		}
	}
	stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend: %v, want io.EOF", err)
	}
}

// newGRPCUpstreamPermitting is newGRPCUpstream with pings permitted every
// minTime.
func newGRPCUpstreamPermitting(t *testing.T, minTime time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minTime, PermitWithoutStream: true}))
	testgrpc.RegisterTestServiceServer(s, &grpctest.Service{})
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return ln.Addr().String()
}
