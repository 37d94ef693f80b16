// Package grpccolor carries duohuo's traffic color (package color) over
// gRPC: a server interceptor pair that applies the same trust rule as
// color.Propagator.Middleware to incoming metadata, and a client
// interceptor pair that writes the lane of the call's context into
// outgoing metadata, like color.Propagator.Transport. The metadata keys
// are the lower-case header names ("x-gray-id", "x-gray-token") and
// "baggage".
//
//	p, err := color.New(color.Config{TrustedNets: internal})
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpccolor.UnaryServerInterceptor(p)),
//		grpc.ChainStreamInterceptor(grpccolor.StreamServerInterceptor(p)))
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(grpccolor.UnaryClientInterceptor(p)),
//		grpc.WithChainStreamInterceptor(grpccolor.StreamClientInterceptor(p)))
//	// a handler's outgoing calls on conn made with its ctx keep its lane
//
// It is a package of its own so that users of color over HTTP do not
// depend on gRPC.
package grpccolor
