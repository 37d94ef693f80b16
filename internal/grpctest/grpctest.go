// Package grpctest is grpc-go's interop TestService as a real upstream for
// duohuo's tests: the gateway and proxy tests run gRPC calls through the
// data plane against it, the way internal/etcdtest provides etcd.
package grpctest

import (
	"context"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Service implements the interop TestService's unary and streaming calls.
// Every unary answer carries the header x-served-by: Name and the trailer
// x-trailer: kept (plus a binary trailer); a call whose metadata has
// x-wait waits for its deadline; a request's ResponseStatus is answered as
// that status. The zero value is ready to use; safe for concurrent use.
type Service struct {
	testgrpc.UnimplementedTestServiceServer
	// Name is sent back in the x-served-by header.
	Name string
	// Unavailable makes every unary call fail with UNAVAILABLE, after its
	// headers (the way a draining grpc-go server answers).
	Unavailable bool
	// UnavailableAfter, with Unavailable, waits that long before failing:
	// long enough for a proxy in front to have read the end of the
	// client's request (a gateway cannot resend a request whose end it
	// had not read when the instance ended the call).
	UnavailableAfter time.Duration

	calls atomic.Int64
}

// Calls returns how many unary calls the service received.
func (s *Service) Calls() int64 { return s.calls.Load() }

// UnaryCall answers with a payload of the requested size.
func (s *Service) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	s.calls.Add(1)
	if s.Name != "" {
		grpc.SetHeader(ctx, metadata.Pairs("x-served-by", s.Name))
	}
	if s.Unavailable {
		if s.UnavailableAfter > 0 {
			grpc.SendHeader(ctx, metadata.MD{})
			select {
			case <-time.After(s.UnavailableAfter):
			case <-ctx.Done():
			}
		}
		return nil, status.Error(codes.Unavailable, "draining")
	}
	grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "kept", "x-bin-bin", "\x00\x01"))
	if md, _ := metadata.FromIncomingContext(ctx); len(md["x-wait"]) > 0 {
		if _, ok := ctx.Deadline(); !ok {
			// Without a deadline a wait would never end: bound it.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Minute)
			defer cancel()
		}
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if st := req.GetResponseStatus(); st != nil {
		return nil, status.Error(codes.Code(st.Code), st.Message)
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: make([]byte, req.GetResponseSize())}}, nil
}

// StreamingOutputCall sends one message per response parameter.
func (s *Service) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream testgrpc.TestService_StreamingOutputCallServer) error {
	for _, p := range req.GetResponseParameters() {
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return nil
}

// StreamingInputCall answers with the total size of the payloads received.
func (s *Service) StreamingInputCall(stream testgrpc.TestService_StreamingInputCallServer) error {
	var sum int32
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: sum})
		}
		if err != nil {
			return err
		}
		sum += int32(len(req.GetPayload().GetBody()))
	}
}

// FullDuplexCall answers each message as it comes: one message per
// response parameter, or the requested status.
func (s *Service) FullDuplexCall(stream testgrpc.TestService_FullDuplexCallServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if st := req.GetResponseStatus(); st != nil {
			return status.Error(codes.Code(st.Code), st.Message)
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
				return err
			}
		}
	}
}
