package etcdaudit_test

import (
	"context"
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/audit/etcdaudit"
)

// printSink prints what it receives; in a service the Sink is an
// *audit.Log.
type printSink struct{}

func (printSink) Append(r audit.Record) bool {
	fmt.Printf("%s key=%s principal=%s outcome=%s revision=%d\n", r.Method, r.Key, r.Principal, r.Outcome, r.Revision)
	return true
}

func Example() {
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	a, _ := etcdaudit.New(etcdaudit.Config{
		Sink:      printSink{},
		Principal: "orders-svc",
		Now:       func() time.Time { return clock },
	})
	// clientv3.New(clientv3.Config{…, DialOptions: a.DialOptions()}) installs
	// the interceptor; here it is called directly, with a stand-in for the
	// network call.
	invoke := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		reply.(*pb.PutResponse).Header = &pb.ResponseHeader{Revision: 42}
		return nil
	}
	ctx := etcdaudit.WithPrincipal(context.Background(), "alice")
	a.UnaryClientInterceptor()(ctx, "/etcdserverpb.KV/Put",
		&pb.PutRequest{Key: []byte("/config/db/password"), Value: []byte("hunter2")},
		&pb.PutResponse{}, nil, invoke)
	// Output:
	// /etcdserverpb.KV/Put key=/config/db/[secret] principal=alice outcome=OK revision=42
}
