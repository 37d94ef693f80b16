package grpccolor_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/duohuo/duohuo/color"
	"github.com/duohuo/duohuo/color/grpccolor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is what service B observed of one call.
type seen struct {
	lane, header, baggage, token string
}

// serviceB records the color of each call it receives.
type serviceB struct {
	healthpb.UnimplementedHealthServer
	calls chan seen
}

func first(md metadata.MD, k string) string {
	if v := md.Get(k); len(v) > 0 {
		return strings.Join(v, ",")
	}
	return ""
}

func (b *serviceB) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	lane, _ := color.FromContext(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	b.calls <- seen{lane, first(md, "x-gray-id"), first(md, "baggage"), first(md, "x-gray-token")}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (b *serviceB) Watch(_ *healthpb.HealthCheckRequest, ss healthpb.Health_WatchServer) error {
	lane, _ := color.FromContext(ss.Context())
	md, _ := metadata.FromIncomingContext(ss.Context())
	b.calls <- seen{lane, first(md, "x-gray-id"), first(md, "baggage"), first(md, "x-gray-token")}
	return ss.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
}

// serviceA calls B for every call, with the incoming context.
type serviceA struct {
	healthpb.UnimplementedHealthServer
	b healthpb.HealthClient
}

func (a *serviceA) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	// Service code passes other baggage on (OpenTelemetry's propagator
	// would); the color is the interceptors' business.
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("baggage")) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, "baggage", first(md, "baggage"))
	}
	return a.b.Check(ctx, req)
}

func serve(t *testing.T, p *color.Propagator, svc healthpb.HealthServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpccolor.UnaryServerInterceptor(p)),
		grpc.ChainStreamInterceptor(grpccolor.StreamServerInterceptor(p)))
	healthpb.RegisterHealthServer(srv, svc)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(lis) // returns when Stop is called
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// dial connects to addr from the loopback address src, with p's client
// interceptors.
func dial(t *testing.T, p *color.Propagator, addr, src string) *grpc.ClientConn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return d.DialContext(ctx, "tcp", a) }),
		grpc.WithChainUnaryInterceptor(grpccolor.UnaryClientInterceptor(p)),
		grpc.WithChainStreamInterceptor(grpccolor.StreamClientInterceptor(p)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestChainOverGRPC runs A → B over real gRPC on loopback: 127.0.0.1 is
// the internal network, 127.0.0.2 an outside client.
func TestChainOverGRPC(t *testing.T) {
	key := []byte("0123456789abcdef-grpc")
	p, err := color.New(color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	b := &serviceB{calls: make(chan seen, 1)}
	bAddr := serve(t, p, b)
	a := &serviceA{b: healthpb.NewHealthClient(dial(t, p, bAddr, "127.0.0.1"))}
	aAddr := serve(t, p, a)
	inside := healthpb.NewHealthClient(dial(t, p, aAddr, "127.0.0.1"))
	outside := healthpb.NewHealthClient(dial(t, p, aAddr, "127.0.0.2"))
	tok, err := p.Sign("gray", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client healthpb.HealthClient
		md     []string
		want   seen
	}{
		{"an internal color reaches B through A", inside, []string{"x-gray-id", "gray", "baggage", "userId=alice"}, seen{"gray", "gray", "userId=alice,gray.lane=gray", ""}},
		{"uncolored calls stay uncolored", inside, []string{"baggage", "userId=alice"}, seen{"", "", "userId=alice", ""}},
		{"an outside client's color is stripped, other baggage kept", outside, []string{"x-gray-id", "gray", "baggage", "userId=alice,gray.lane=gray"}, seen{"", "", "userId=alice", ""}},
		{"an outside client's lane in a second baggage entry is stripped", outside, []string{"baggage", "userId=alice", "baggage", "gray.lane=gray"}, seen{"", "", "userId=alice", ""}},
		{"an outside client with a token gets its lane", outside, []string{"x-gray-token", tok}, seen{"gray", "gray", "gray.lane=gray", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, tt.md...)
			if _, err := tt.client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			if got := <-b.calls; got != tt.want {
				t.Errorf("B saw %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestStreams: the stream interceptors apply the same rule.
func TestStreams(t *testing.T) {
	p, err := color.New(color.Config{TrustedNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	b := &serviceB{calls: make(chan seen, 1)}
	addr := serve(t, p, b)
	tests := []struct {
		name string
		src  string
		ctx  context.Context
		want seen
	}{
		{"a lane in the client's context reaches the server", "127.0.0.1", color.WithLane(context.Background(), "gray"), seen{"gray", "gray", "gray.lane=gray", ""}},
		{"an outside client's color is stripped", "127.0.0.2", color.WithLane(context.Background(), "gray"), seen{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(tt.ctx, 10*time.Second)
			defer cancel()
			st, err := healthpb.NewHealthClient(dial(t, p, addr, tt.src)).Watch(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Recv(); err != nil {
				t.Fatal(err)
			}
			if got := <-b.calls; got != tt.want {
				t.Errorf("server saw %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestClientSignsAndReplaces: a lane in the context replaces any stale
// color in the outgoing metadata, and a token is attached when p signs.
func TestClientSignsAndReplaces(t *testing.T) {
	p, err := color.New(color.Config{Keys: [][]byte{[]byte("0123456789abcdef-grpc")}, SignTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var got metadata.MD
	invoker := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		got, _ = metadata.FromOutgoingContext(ctx)
		return nil
	}
	ctx := metadata.AppendToOutgoingContext(color.WithLane(context.Background(), "gray"), "x-gray-id", "stale", "baggage", "a=1")
	if err := grpccolor.UnaryClientInterceptor(p)(ctx, "/m", nil, nil, nil, invoker); err != nil {
		t.Fatal(err)
	}
	if first(got, "x-gray-id") != "gray" || first(got, "baggage") != "a=1,gray.lane=gray" {
		t.Errorf("outgoing metadata = %v", got)
	}
	if lane, err := p.Verify(first(got, "x-gray-token")); err != nil || lane != "gray" {
		t.Errorf("outgoing token verifies as %q, %v", lane, err)
	}
}
