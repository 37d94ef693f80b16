// Command grpcbackend is the upstream of the gRPC and h2c benchmark
// (bench/grpc.sh), on one core (GOMAXPROCS=1) like bench/backend. It runs
// two servers:
//
//   - a grpc-go server (HTTP/2 in clear text) with one unary method,
//     /duohuo.bench.Backend/Reply, which takes a google.protobuf.UInt32Value
//     size and answers a google.protobuf.BytesValue of that many bytes (64
//     or 4096; other sizes are INVALID_ARGUMENT), and grpc's standard health
//     service (grpc.health.v1.Health), SERVING;
//   - a net/http server speaking HTTP/1.1 and h2c (prior knowledge) that
//     answers GET /64 and GET /4096 with a fixed body of that many bytes and
//     GET /healthz with "ok", as bench/backend does.
//
// Answers are built once at start. With -request SIZE it prints instead the
// body of a Reply call for SIZE (the 5-byte gRPC prefix and the message),
// which the load generator sends, and exits.
//
// Usage:
//
//	grpcbackend -grpc 127.0.0.1:18081 -http 127.0.0.1:18082
//	grpcbackend -request 64 > reply64.bin
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func main() {
	grpcAddr := flag.String("grpc", "127.0.0.1:18081", "gRPC listen address (loopback)")
	httpAddr := flag.String("http", "127.0.0.1:18082", "HTTP/1.1 and h2c listen address (loopback)")
	request := flag.Int("request", 0, "print the body of a Reply call for this size and exit")
	flag.Parse()
	if *request != 0 {
		b, err := requestBody(uint32(*request))
		if err == nil {
			_, err = os.Stdout.Write(b)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "grpcbackend:", err)
			os.Exit(1)
		}
		return
	}
	runtime.GOMAXPROCS(1)
	if err := run(*grpcAddr, *httpAddr); err != nil {
		fmt.Fprintln(os.Stderr, "grpcbackend:", err)
		os.Exit(1)
	}
}

// ReplyMethod is the full name of the benchmark's unary method.
const ReplyMethod = "/duohuo.bench.Backend/Reply"

// sizes are the reply sizes the backend serves, as in bench/backend.
var sizes = []uint32{64, 4096}

// requestBody returns a gRPC-framed Reply request for size: flag 0, the
// big-endian length, then the UInt32Value.
func requestBody(size uint32) ([]byte, error) {
	m, err := proto.Marshal(wrapperspb.UInt32(size))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, 5+len(m))
	binary.BigEndian.PutUint32(out[1:], uint32(len(m)))
	return append(out, m...), nil
}

// backend answers Reply from precomputed messages.
type backend struct {
	replies map[uint32]*wrapperspb.BytesValue
}

func newBackend() *backend {
	b := &backend{replies: map[uint32]*wrapperspb.BytesValue{}}
	for _, n := range sizes {
		b.replies[n] = wrapperspb.Bytes(bytes.Repeat([]byte("x"), int(n)))
	}
	return b
}

func (b *backend) reply(_ context.Context, req *wrapperspb.UInt32Value) (*wrapperspb.BytesValue, error) {
	r, ok := b.replies[req.GetValue()]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "size %d: the backend serves 64 and 4096", req.GetValue())
	}
	return r, nil
}

// serviceDesc describes duohuo.bench.Backend by hand: one unary method on
// well-known message types, so that no generated code is needed.
func serviceDesc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "duohuo.bench.Backend",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Reply",
			Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := new(wrapperspb.UInt32Value)
				if err := dec(req); err != nil {
					return nil, err
				}
				return srv.(*backend).reply(ctx, req)
			},
		}},
	}
}

// newGRPCServer returns the benchmark's gRPC server: the Reply method and
// the health service, SERVING.
func newGRPCServer() *grpc.Server {
	s := grpc.NewServer()
	s.RegisterService(serviceDesc(), newBackend())
	healthpb.RegisterHealthServer(s, grpchealth.NewServer()) // SERVING for ""
	return s
}

// reply is one precomputed HTTP answer.
type reply struct {
	body   []byte
	length []string
}

var textPlain = []string{"text/plain"}

// httpHandler answers the HTTP paths from precomputed replies.
func httpHandler() http.Handler {
	replies := map[string]reply{"/healthz": {body: []byte("ok"), length: []string{"2"}}}
	for _, n := range sizes {
		replies["/"+strconv.Itoa(int(n))] = reply{body: bytes.Repeat([]byte("x"), int(n)), length: []string{strconv.Itoa(int(n))}}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp, ok := replies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd["Content-Type"] = textPlain
		hd["Content-Length"] = rp.length
		w.Write(rp.body)
	})
}

// newHTTPServer returns the HTTP/1.1 and h2c server.
func newHTTPServer() *http.Server {
	srv := &http.Server{Handler: httpHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

func run(grpcAddr, httpAddr string) error {
	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		gl.Close()
		return err
	}
	gs, hs := newGRPCServer(), newHTTPServer()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	errc := make(chan error, 2)
	go func() { errc <- gs.Serve(gl) }()
	go func() { errc <- hs.Serve(hl) }()
	var errs []error
	pending := 2
	select {
	case err := <-errc: // one server failed: stop the other too
		errs = append(errs, err)
		pending--
	case <-stop:
	}
	gs.Stop()
	errs = append(errs, hs.Close())
	for ; pending > 0; pending-- {
		errs = append(errs, <-errc)
	}
	for i, err := range errs {
		if errors.Is(err, http.ErrServerClosed) {
			errs[i] = nil
		}
	}
	return errors.Join(errs...)
}
