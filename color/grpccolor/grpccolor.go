package grpccolor

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/duohuo/duohuo/color"
)

// baggageKey is the metadata key of W3C baggage (gRPC metadata keys are
// lower case).
const baggageKey = "baggage"

// UnaryServerInterceptor returns a server interceptor that applies p's
// trust rule to each call's incoming metadata: an untrusted color is
// removed from the metadata the handler sees, a trusted lane is put into
// the context ([color.FromContext]) and written back in both forms. Safe
// for concurrent use.
func UnaryServerInterceptor(p *color.Propagator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(incoming(ctx, p), req)
	}
}

// StreamServerInterceptor is [UnaryServerInterceptor] for streams.
func StreamServerInterceptor(p *color.Propagator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &stream{ServerStream: ss, ctx: incoming(ss.Context(), p)})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// UnaryClientInterceptor returns a client interceptor that colors each
// outgoing call whose context carries a lane: it sets the color key, the
// baggage member (other members kept) and, when p signs, a token, in the
// outgoing metadata. A call without a lane is sent as is. Safe for
// concurrent use.
func UnaryClientInterceptor(p *color.Propagator) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, err := outgoing(ctx, p)
		if err != nil {
			return err
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor is [UnaryClientInterceptor] for streams.
func StreamClientInterceptor(p *color.Propagator) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, err := outgoing(ctx, p)
		if err != nil {
			return nil, err
		}
		return streamer(ctx, desc, cc, method, opts...)
	}
}

func keys(p *color.Propagator) (header, token string) {
	return strings.ToLower(p.Header()), strings.ToLower(p.TokenHeader())
}

func incoming(ctx context.Context, p *color.Propagator) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	header, token := keys(p)
	get := func(k string) string {
		vs := md.Get(k)
		if k == baggageKey {
			return strings.Join(vs, ",")
		}
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	lane, trusted := p.Trust(peerAddr(ctx), get)
	carries := len(md.Get(header)) > 0 || len(md.Get(token)) > 0
	if !carries {
		_, carries = color.BaggageValue(get(baggageKey), p.BaggageKey())
	}
	if !trusted && !carries {
		return ctx
	}
	md = md.Copy()
	md.Delete(header)
	md.Delete(token)
	bag := get(baggageKey)
	md.Delete(baggageKey)
	if rest, err := color.RemoveBaggage(bag, p.BaggageKey()); err == nil && rest != "" {
		md.Set(baggageKey, rest)
		bag = rest
	} else {
		bag = ""
	}
	if trusted {
		if b, err := color.SetBaggage(bag, p.BaggageKey(), lane); err == nil {
			md.Set(baggageKey, b)
		}
		md.Set(header, lane)
		ctx = color.WithLane(ctx, lane)
	}
	return metadata.NewIncomingContext(ctx, md)
}

func outgoing(ctx context.Context, p *color.Propagator) (context.Context, error) {
	lane, ok := color.FromContext(ctx)
	if !ok {
		return ctx, nil
	}
	header, token := keys(p)
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	bag, err := color.RemoveBaggage(strings.Join(md.Get(baggageKey), ","), p.BaggageKey())
	if err != nil {
		bag = "" // malformed: not ours to repair, start afresh
	}
	bag, err = color.SetBaggage(bag, p.BaggageKey(), lane)
	if err != nil {
		return ctx, err
	}
	tok, err := p.OutgoingToken(lane)
	if err != nil {
		return ctx, err
	}
	md.Set(header, lane)
	md.Set(baggageKey, bag)
	md.Delete(token)
	if tok != "" {
		md.Set(token, tok)
	}
	return metadata.NewOutgoingContext(ctx, md), nil
}

func peerAddr(ctx context.Context) netip.Addr {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return netip.Addr{}
	}
	if ta, ok := pr.Addr.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr()
	}
	ap, err := netip.ParseAddrPort(pr.Addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}
