package etcdaudit

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/duohuo/duohuo/audit"
)

// Sink receives audit records. Append must not block; it reports whether
// the record was kept. *audit.Log is a Sink.
type Sink interface {
	Append(audit.Record) bool
}

var _ Sink = (*audit.Log)(nil)

// Config configures an [Auditor].
type Config struct {
	// Sink receives the records. Required.
	Sink Sink
	// Redactor hides secrets in keys. Nil means audit.DefaultRedactor().
	Redactor *audit.Redactor
	// Principal is recorded for calls whose context carries none (see
	// [WithPrincipal]): typically the etcd user or the service's name.
	Principal string
	// Now is the clock for timestamps and latencies. Nil means time.Now.
	Now func() time.Time
}

// Auditor makes the interceptors. It is immutable and safe for concurrent
// use; one Auditor may serve many clients.
type Auditor struct {
	sink      Sink
	redact    *audit.Redactor
	principal string
	now       func() time.Time
}

// ErrNoSink is returned by [New] without a Sink.
var ErrNoSink = errors.New("etcdaudit: config has no sink")

// New returns an Auditor for cfg.
func New(cfg Config) (*Auditor, error) {
	if cfg.Sink == nil {
		return nil, ErrNoSink
	}
	a := &Auditor{sink: cfg.Sink, redact: cfg.Redactor, principal: cfg.Principal, now: cfg.Now}
	if a.redact == nil {
		a.redact = audit.DefaultRedactor()
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// DialOptions returns the dial options that install both interceptors, for
// clientv3.Config.DialOptions.
func (a *Auditor) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(a.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(a.StreamClientInterceptor()),
	}
}

type principalKey struct{}

// WithPrincipal returns a context whose calls are recorded as made by p.
func WithPrincipal(ctx context.Context, p string) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

func (a *Auditor) principalOf(ctx context.Context) string {
	if p, ok := ctx.Value(principalKey{}).(string); ok {
		return p
	}
	return a.principal
}

// maxErrLen bounds the error message kept in a record.
const maxErrLen = 256

func (a *Auditor) finish(r *audit.Record, err error) {
	st := status.Convert(err)
	if err != nil && st.Code() == 0 {
		// Not a gRPC status (the client's own error): classify the
		// context errors, as grpc does on the wire.
		st = status.FromContextError(err)
	}
	r.Outcome = st.Code().String()
	if err != nil {
		msg := st.Message()
		if len(msg) > maxErrLen {
			msg = msg[:maxErrLen]
		}
		r.Error = msg
	}
	a.sink.Append(*r)
}

// UnaryClientInterceptor returns the interceptor for unary calls (KV,
// Lease, Cluster, Maintenance, Auth). It records one record per call
// attempt after the call returns.
func (a *Auditor) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := a.now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		r := audit.Record{Time: start, Method: method, Principal: a.principalOf(ctx)}
		r.LatencyMicros = a.now().Sub(start).Microseconds()
		a.describeRequest(&r, req)
		if err == nil {
			describeReply(&r, reply)
		}
		a.finish(&r, err)
		return err
	}
}

// StreamClientInterceptor returns the interceptor for streams (Watch,
// LeaseKeepAlive, Snapshot).
func (a *Auditor) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		start := a.now()
		cs, err := streamer(ctx, desc, cc, method, opts...)
		principal := a.principalOf(ctx)
		r := audit.Record{Time: start, Method: method, Event: "open", Principal: principal,
			LatencyMicros: a.now().Sub(start).Microseconds()}
		a.finish(&r, err)
		if err != nil {
			return nil, err
		}
		return &stream{ClientStream: cs, a: a, method: method, principal: principal, start: start}, nil
	}
}

// stream wraps a client stream to record watch creation and the end.
type stream struct {
	grpc.ClientStream
	a         *Auditor
	method    string
	principal string
	start     time.Time
	endOnce   sync.Once
}

func (s *stream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if wr, ok := m.(*pb.WatchRequest); ok {
		if cr := wr.GetCreateRequest(); cr != nil {
			now := s.a.now()
			r := audit.Record{Time: now, Method: s.method, Event: "send", Principal: s.principal,
				Key: s.a.redact.Redact(string(cr.Key)), RangeEnd: s.a.redact.Redact(string(cr.RangeEnd))}
			s.a.finish(&r, err)
		}
	}
	return err
}

func (s *stream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.endOnce.Do(func() {
			r := audit.Record{Time: s.a.now(), Method: s.method, Event: "close", Principal: s.principal}
			r.LatencyMicros = r.Time.Sub(s.start).Microseconds()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			s.a.finish(&r, err)
		})
	}
	return err
}

// maxTxnKeys bounds the keys recorded for one transaction.
const maxTxnKeys = 32

func (a *Auditor) describeRequest(r *audit.Record, req any) {
	switch q := req.(type) {
	case *pb.RangeRequest:
		r.Key, r.RangeEnd = a.redact.Redact(string(q.Key)), a.redact.Redact(string(q.RangeEnd))
	case *pb.PutRequest:
		r.Key, r.Lease = a.redact.Redact(string(q.Key)), q.Lease
	case *pb.DeleteRangeRequest:
		r.Key, r.RangeEnd = a.redact.Redact(string(q.Key)), a.redact.Redact(string(q.RangeEnd))
	case *pb.TxnRequest:
		r.Keys = a.txnKeys(q, nil)
	case *pb.CompactionRequest:
		r.Revision = q.Revision
	case *pb.LeaseRevokeRequest:
		r.Lease = q.ID
	case *pb.LeaseTimeToLiveRequest:
		r.Lease = q.ID
	case *pb.LeaseGrantRequest:
		r.Lease = q.ID
	}
}

// txnKeys appends the distinct redacted keys that a transaction compares
// or touches, nested transactions included, up to maxTxnKeys.
func (a *Auditor) txnKeys(t *pb.TxnRequest, keys []string) []string {
	add := func(k []byte) {
		if len(keys) >= maxTxnKeys {
			return
		}
		s := a.redact.Redact(string(k))
		for _, have := range keys {
			if have == s {
				return
			}
		}
		keys = append(keys, s)
	}
	for _, c := range t.Compare {
		add(c.Key)
	}
	for _, ops := range [][]*pb.RequestOp{t.Success, t.Failure} {
		for _, op := range ops {
			switch {
			case op.GetRequestRange() != nil:
				add(op.GetRequestRange().Key)
			case op.GetRequestPut() != nil:
				add(op.GetRequestPut().Key)
			case op.GetRequestDeleteRange() != nil:
				add(op.GetRequestDeleteRange().Key)
			case op.GetRequestTxn() != nil:
				keys = a.txnKeys(op.GetRequestTxn(), keys)
			}
		}
	}
	return keys
}

func describeReply(r *audit.Record, reply any) {
	if h, ok := reply.(interface{ GetHeader() *pb.ResponseHeader }); ok && h.GetHeader() != nil {
		r.Revision = h.GetHeader().Revision
	}
	if g, ok := reply.(*pb.LeaseGrantResponse); ok {
		r.Lease = g.ID
	}
}
