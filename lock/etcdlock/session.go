package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultTTL is the lease TTL of a Session made without WithTTL: etcd's own
// default. A holder that stops (crash, pause, partition) keeps others out for
// up to this long, so services that must fail over fast choose shorter ones.
const DefaultTTL = 60 * time.Second

// Session is a lease kept alive in the background. Locks taken with it are
// held as long as the lease lives. Done is closed, and Context cancelled,
// when the lease is lost (expired, revoked, or no keep-alive answer within
// TTL) or the session is closed.
//
// A Session is safe for concurrent use. It owns one goroutine (the
// keep-alive loop) that Close and Orphan stop and wait for.
type Session struct {
	s   *concurrency.Session
	ttl time.Duration
}

// Option configures NewSession.
type Option func(*sessionOptions)

type sessionOptions struct {
	ttl   time.Duration
	lease clientv3.LeaseID
}

// WithTTL sets the lease TTL. etcd counts leases in whole seconds, so ttl is
// rounded up to one; the server also raises it to its minimum (1.5 election
// timeouts, 2 s with etcd's defaults). Zero or less means DefaultTTL.
func WithTTL(ttl time.Duration) Option {
	return func(o *sessionOptions) { o.ttl = ttl }
}

// WithLease makes the session keep an existing lease alive instead of
// granting a new one, e.g. to find a lock again after a process restart.
func WithLease(id clientv3.LeaseID) Option {
	return func(o *sessionOptions) { o.lease = id }
}

// NewSession grants a lease (bounded by ctx) and starts keeping it alive.
// ctx bounds only the grant; the session lives until Close, Orphan, or the
// loss of the lease.
func NewSession(ctx context.Context, cli *clientv3.Client, opts ...Option) (*Session, error) {
	o := sessionOptions{ttl: DefaultTTL}
	for _, opt := range opts {
		opt(&o)
	}
	if o.ttl <= 0 {
		o.ttl = DefaultTTL
	}
	secs := int64(math.Ceil(o.ttl.Seconds()))
	if o.lease == clientv3.NoLease {
		resp, err := cli.Grant(ctx, secs)
		if err != nil {
			return nil, fmt.Errorf("grant lease of %ds: %w", secs, err)
		}
		o.lease = resp.ID
	}
	// With WithLease, concurrency.NewSession does no RPC and starts the
	// keep-alive from the client's context, so the session outlives ctx.
	s, err := concurrency.NewSession(cli, concurrency.WithLease(o.lease), concurrency.WithTTL(int(secs)))
	if err != nil {
		return nil, fmt.Errorf("keep lease %x alive: %w", o.lease, err)
	}
	return &Session{s: s, ttl: time.Duration(secs) * time.Second}, nil
}

// Client returns the etcd client the session uses.
func (s *Session) Client() *clientv3.Client { return s.s.Client() }

// Lease returns the session's lease ID.
func (s *Session) Lease() clientv3.LeaseID { return s.s.Lease() }

// TTL returns the lease TTL asked for, rounded up to whole seconds.
func (s *Session) TTL() time.Duration { return s.ttl }

// Done returns a channel closed when the lease is lost or the session is
// closed or orphaned.
func (s *Session) Done() <-chan struct{} { return s.s.Done() }

// Context returns a context cancelled when Done is closed.
func (s *Session) Context() context.Context { return s.s.Ctx() }

// Orphan stops keeping the lease alive without revoking it, and waits for
// the keep-alive loop to end: the lease, and any lock held with it, expires
// after TTL. Use it when the connection state is unknown, or to hand the
// lease to another process (WithLease).
func (s *Session) Orphan() { s.s.Orphan() }

// Close stops the keep-alive and revokes the lease, releasing every lock held
// with it at once. The revoke waits at most TTL (after which the lease has
// expired anyway).
func (s *Session) Close() error {
	// A lease that is already gone (expired while paused) is released.
	if err := s.s.Close(); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoke lease %x: %w", s.s.Lease(), err)
	}
	return nil
}
