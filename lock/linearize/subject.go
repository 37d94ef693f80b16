package linearize

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
)

// ErrNotAcquired is wrapped by a Client's Acquire error when the lock was
// certainly not taken (nothing was written), as opposed to an error after
// which the outcome is unknown.
var ErrNotAcquired = errors.New("linearize: lock not acquired")

// Client is one participant's handle on the lock under test and on the
// register it protects. The harness calls a Client from one goroutine.
type Client interface {
	// Acquire blocks until the lock is held and returns the fencing token
	// (zero for locks without one). An error wrapping ErrNotAcquired says
	// the lock was certainly not taken; any other error leaves it unknown.
	Acquire(ctx context.Context) (lock.Token, error)
	// Read returns the register's value, presenting token to the resource.
	Read(ctx context.Context, token lock.Token) (int64, error)
	// Write sets the register, presenting token. A resource that refuses a
	// stale holder returns an error wrapping lock.ErrStaleToken.
	Write(ctx context.Context, token lock.Token, v int64) error
	// Release unlocks. It returns an error wrapping lock.ErrLost if the
	// lock was lost before.
	Release(ctx context.Context) error
	// Pause stops the client for d, or until ctx ends, as a process stopped
	// by SIGSTOP and continued by SIGCONT: everything it runs in the
	// background, keep-alives included, stops for that long. It blocks
	// while the client is stopped.
	Pause(ctx context.Context, d time.Duration)
	// Reset gives up whatever the client might hold after an operation
	// with an unknown outcome, returning once it can no longer hold the
	// lock or ctx ends.
	Reset(ctx context.Context) error
	// Close releases the client's resources.
	Close() error
}

// Subjects are the subjects ServeClient can run in a child process, by
// name.
var Subjects = map[string]Subject{
	Etcdlock.Name:   Etcdlock,
	TTLOnly.Name:    TTLOnly,
	GetThenPut.Name: GetThenPut,
}

// Subject is a lock implementation the harness can drive. Subjects are
// plain values, safe to share between concurrent runs.
type Subject struct {
	// Name identifies the subject in reports ("etcdlock", "ttl-only", ...).
	Name string
	// Safe says whether the subject is expected to pass: false for the
	// deliberately unsafe controls.
	Safe bool
	// NewClient returns client id's handle; key is the run's key prefix,
	// ttl the lease TTL.
	NewClient func(cli *clientv3.Client, key string, id int, ttl time.Duration) Client
}

// Etcdlock is the subject under test: lock/etcdlock's Mutex with a session
// per client, and the register behind an etcdlock.Fence (reads and writes
// fenced).
var Etcdlock = Subject{
	Name: "etcdlock",
	Safe: true,
	NewClient: func(cli *clientv3.Client, key string, id int, ttl time.Duration) Client {
		return &etcdClient{cli: cli, key: key, id: id, ttl: ttl,
			fence: etcdlock.Fence{KV: cli, Key: key + "/fence"}}
	},
}

type etcdClient struct {
	cli   *clientv3.Client
	key   string
	id    int
	ttl   time.Duration
	fence etcdlock.Fence

	s    *etcdlock.Session
	held *etcdlock.Held
}

func (c *etcdClient) Acquire(ctx context.Context) (lock.Token, error) {
	if c.s != nil {
		select {
		case <-c.s.Done():
			c.s.Close() // the lease is gone or going; release what is left
			c.s = nil
		default:
		}
	}
	if c.s == nil {
		s, err := etcdlock.NewSession(ctx, c.cli, etcdlock.WithTTL(c.ttl))
		if err != nil {
			// No session, no lock key: nothing can be held.
			return 0, fmt.Errorf("%w: %w", ErrNotAcquired, err)
		}
		c.s = s
	}
	h, err := etcdlock.NewMutex(c.s, c.key+"/lock", strconv.Itoa(c.id)).Lock(ctx)
	if err != nil {
		return 0, err
	}
	c.held = h
	return h.Token(), nil
}

func (c *etcdClient) Read(ctx context.Context, token lock.Token) (int64, error) {
	resp, err := c.fence.Txn(ctx, token, clientv3.OpGet(c.key+"/register"))
	if err != nil {
		return 0, err
	}
	return decodeRegister(resp.Responses[1].GetResponseRange().Kvs)
}

func (c *etcdClient) Write(ctx context.Context, token lock.Token, v int64) error {
	_, err := c.fence.Txn(ctx, token, clientv3.OpPut(c.key+"/register", strconv.FormatInt(v, 10)))
	return err
}

func (c *etcdClient) Release(ctx context.Context) error {
	if c.held == nil {
		return lock.ErrNotHolder
	}
	err := c.held.Unlock(ctx)
	if err == nil || errors.Is(err, lock.ErrLost) {
		c.held = nil
	}
	return err
}

// Pause orphans the session: its keep-alive stops for good, as it would
// for the length of a real stop, and the lease runs out.
func (c *etcdClient) Pause(ctx context.Context, d time.Duration) {
	if c.s != nil {
		c.s.Orphan()
	}
	sleep(ctx, d)
}

func (c *etcdClient) Reset(ctx context.Context) error {
	c.held = nil
	if c.s == nil {
		return nil
	}
	s := c.s
	c.s = nil
	if s.Close() == nil {
		return nil
	}
	return waitLeaseGone(ctx, c.cli, s.Lease())
}

func (c *etcdClient) Close() error {
	if c.s != nil {
		return c.s.Close()
	}
	return nil
}

// waitLeaseGone polls until the lease no longer exists (the server reports
// TTL -1) or ctx ends. A revoke that failed leaves the lease to expire, and
// a leader change can extend it, so waiting one TTL is not enough.
func waitLeaseGone(ctx context.Context, cli *clientv3.Client, id clientv3.LeaseID) error {
	for {
		resp, err := cli.TimeToLive(ctx, id)
		if err == nil && resp.TTL < 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lease %x still alive: %w", id, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func decodeRegister(kvs []*mvccpb.KeyValue) (int64, error) {
	if len(kvs) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseInt(string(kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("register value %q: %w", kvs[0].Value, err)
	}
	return v, nil
}

// TTLOnly is an unsafe control: the lock is a key put with a lease of TTL
// (no keep-alive) if absent, released with an unconditional delete, and the
// register is read and written without fencing. It is the common "SET NX
// with expiry" lock: a holder paused past its TTL keeps writing, and its
// release can delete the next holder's key.
var TTLOnly = Subject{
	Name: "ttl-only",
	NewClient: func(cli *clientv3.Client, key string, id int, ttl time.Duration) Client {
		return &unsafeClient{cli: cli, key: key, id: id, ttl: ttl, atomic: true}
	},
}

// GetThenPut is an unsafe control: the lock reads the key and puts it if it
// was absent, in two requests, so two clients can both see it free. No
// fencing.
var GetThenPut = Subject{
	Name: "get-then-put",
	NewClient: func(cli *clientv3.Client, key string, id int, ttl time.Duration) Client {
		return &unsafeClient{cli: cli, key: key, id: id, ttl: ttl}
	},
}

type unsafeClient struct {
	cli    *clientv3.Client
	key    string
	id     int
	ttl    time.Duration
	atomic bool // put-if-absent in one transaction (TTLOnly) or get, then put
}

func (c *unsafeClient) Acquire(ctx context.Context) (lock.Token, error) {
	lk := c.key + "/lock"
	for {
		resp, err := c.cli.Get(ctx, lk)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrNotAcquired, err)
		}
		if len(resp.Kvs) == 0 {
			tok, ok, err := c.take(ctx, lk)
			if err != nil || ok {
				return tok, err
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%w: %w", ErrNotAcquired, ctx.Err())
		case <-time.After(10 * time.Millisecond): // poll: this lock has no queue
		}
	}
}

// take puts the lock key with a fresh lease: if still absent (TTLOnly), or
// blindly after the caller saw it absent (GetThenPut).
func (c *unsafeClient) take(ctx context.Context, lk string) (lock.Token, bool, error) {
	lease, err := c.cli.Grant(ctx, int64((c.ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", ErrNotAcquired, err)
	}
	if !c.atomic {
		pr, err := c.cli.Put(ctx, lk, strconv.Itoa(c.id), clientv3.WithLease(lease.ID))
		if err != nil {
			return 0, false, err
		}
		return lock.Token(pr.Header.Revision), true, nil
	}
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(lk), "=", 0)).
		Then(clientv3.OpPut(lk, strconv.Itoa(c.id), clientv3.WithLease(lease.ID))).
		Commit()
	if err != nil {
		return 0, false, err
	}
	if !resp.Succeeded {
		c.cli.Revoke(ctx, lease.ID)
		return 0, false, nil
	}
	return lock.Token(resp.Header.Revision), true, nil
}

func (c *unsafeClient) Read(ctx context.Context, _ lock.Token) (int64, error) {
	resp, err := c.cli.Get(ctx, c.key+"/register")
	if err != nil {
		return 0, err
	}
	return decodeRegister(resp.Kvs)
}

func (c *unsafeClient) Write(ctx context.Context, _ lock.Token, v int64) error {
	_, err := c.cli.Put(ctx, c.key+"/register", strconv.FormatInt(v, 10))
	return err
}

func (c *unsafeClient) Release(ctx context.Context) error {
	_, err := c.cli.Delete(ctx, c.key+"/lock")
	return err
}

func (c *unsafeClient) Pause(ctx context.Context, d time.Duration) { sleep(ctx, d) }
func (c *unsafeClient) Reset(context.Context) error                { return nil }
func (c *unsafeClient) Close() error                               { return nil }
