package etcdaudit_test

import (
	"context"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/audit/etcdaudit"
)

type discardSink struct{}

func (discardSink) Append(audit.Record) bool { return true }

// BenchmarkUnaryInterceptor measures what auditing adds to one etcd call:
// the interceptor around an invoker that does nothing, with a Sink that
// discards (the queueing cost of audit.Log is BenchmarkAppend in audit).
func BenchmarkUnaryInterceptor(b *testing.B) {
	a, err := etcdaudit.New(etcdaudit.Config{Sink: discardSink{}, Principal: "svc"})
	if err != nil {
		b.Fatal(err)
	}
	ic := a.UnaryClientInterceptor()
	invoke := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	req := &pb.PutRequest{Key: []byte("/duohuo/lock/orders/694d8f3a"), Value: []byte("v")}
	reply := &pb.PutResponse{Header: &pb.ResponseHeader{Revision: 7}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := ic(ctx, "/etcdserverpb.KV/Put", req, reply, nil, invoke); err != nil {
			b.Fatal(err)
		}
	}
}
