package main

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs srv on a loopback listener until the test ends.
func serve(t *testing.T, serve func(net.Listener) error, stop func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); serve(ln) }()
	t.Cleanup(func() { stop(); <-done })
	return ln.Addr().String()
}

func TestReplyAndHealth(t *testing.T) {
	gs := newGRPCServer()
	addr := serve(t, gs.Serve, gs.Stop)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		size uint32
		code codes.Code
	}{
		{"64 bytes", 64, codes.OK},
		{"4 KiB", 4096, codes.OK},
		{"another size is refused", 5, codes.InvalidArgument},
	} {
		out := new(wrapperspb.BytesValue)
		err := conn.Invoke(ctx, ReplyMethod, wrapperspb.UInt32(c.size), out)
		if status.Code(err) != c.code {
			t.Errorf("%s: Reply(%d) error %v, want code %v", c.name, c.size, err, c.code)
		}
		if c.code == codes.OK && len(out.GetValue()) != int(c.size) {
			t.Errorf("%s: Reply(%d) answered %d bytes", c.name, c.size, len(out.GetValue()))
		}
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check = %v, %v; want SERVING", resp, err)
	}
}

func TestRequestBodyIsOneFramedMessage(t *testing.T) {
	for _, size := range []uint32{64, 4096} {
		b, err := requestBody(size)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 5 || b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
			t.Fatalf("requestBody(%d) = %x: not one uncompressed gRPC frame", size, b)
		}
		var m wrapperspb.UInt32Value
		if err := proto.Unmarshal(b[5:], &m); err != nil || m.GetValue() != size {
			t.Fatalf("requestBody(%d) decodes to %d, %v", size, m.GetValue(), err)
		}
	}
}

func TestHTTPServerSpeaksHTTP1AndH2C(t *testing.T) {
	hs := newHTTPServer()
	addr := serve(t, hs.Serve, func() { hs.Close() })
	h1 := &http.Transport{}
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h1.CloseIdleConnections()
	defer h2c.CloseIdleConnections()
	for _, tr := range []struct {
		proto string
		rt    *http.Transport
	}{{"HTTP/1.1", h1}, {"HTTP/2.0", h2c}} {
		for _, c := range []struct {
			path   string
			status int
			size   int64
		}{
			{"/64", 200, 64},
			{"/4096", 200, 4096},
			{"/healthz", 200, 2},
			{"/x", 404, -1},
		} {
			resp, err := (&http.Client{Transport: tr.rt}).Get("http://" + addr + c.path)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Proto != tr.proto || resp.StatusCode != c.status || (c.size >= 0 && n != c.size) {
				t.Errorf("%s GET %s: %s, status %d, %d bytes; want %s, %d, %d bytes", tr.proto, c.path, resp.Proto, resp.StatusCode, n, tr.proto, c.status, c.size)
			}
		}
	}
}
