// Package etcd registers an instance in etcd, in the layout that
// discovery/etcd follows: the key "<prefix><service>/<id>" holds the
// instance as JSON and is attached to a lease that the registration keeps
// alive, so that the key goes when the process does.
//
//	reg, err := etcd.Register(ctx, etcd.Config{
//		Client:   cli,
//		Prefix:   "/duohuo/instances/",
//		Service:  "api",
//		Instance: discovery.Instance{Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100},
//	})
//	if err != nil {
//		return err
//	}
//	defer reg.Close(context.Background()) // deregisters at once
package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/discovery"
)

// ErrConfig means a Config is unusable; Register says which field.
var ErrConfig = errors.New("registry/etcd: bad config")

// Config says what to register where.
type Config struct {
	// Client is the etcd client; the registration does not close it.
	Client *clientv3.Client
	// Prefix is discovery/etcd's prefix, e.g. "/duohuo/instances/".
	Prefix string
	// Service is the service the instance belongs to.
	Service string
	// Instance is what is registered. Its ID names the key; if empty,
	// the address. Source is ignored.
	Instance discovery.Instance
	// TTL is the lease's time to live: how long the key outlives a
	// process that dies without closing. If zero, 10s; at least 2s.
	TTL time.Duration
	// Timeout bounds each call to etcd (grant, put, revoke). If zero, 5s.
	Timeout time.Duration
	// Logger receives the re-registrations after a lost lease. If nil,
	// slog.Default().
	Logger *slog.Logger
}

// Registration is an instance registered in etcd. Its methods are safe for
// concurrent use.
type Registration struct {
	cfg   Config
	key   string
	value string
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	lease clientv3.LeaseID
	err   error // the last failure to register again, nil once it worked
}

// entry is the JSON discovery/etcd decodes.
type entry struct {
	ID       string            `json:"id,omitempty"`
	Addr     string            `json:"addr"`
	Weight   uint32            `json:"weight"`
	Cloud    string            `json:"cloud,omitempty"`
	Region   string            `json:"region,omitempty"`
	Zone     string            `json:"zone,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Register writes the instance under a new lease and keeps the lease alive
// until Close. It returns once the key is written; when the lease is lost
// later (etcd unreachable for longer than the TTL, the lease revoked by
// someone else), the registration writes the key again under a new lease,
// with a backoff, for as long as it is open.
func Register(ctx context.Context, cfg Config) (*Registration, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w: Client is nil", ErrConfig)
	}
	if strings.Trim(cfg.Prefix, "/") == "" {
		return nil, fmt.Errorf("%w: Prefix %q is empty or the whole keyspace", ErrConfig, cfg.Prefix)
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if err := discovery.CheckService(cfg.Service); err != nil {
		return nil, fmt.Errorf("%w: Service: %w", ErrConfig, err)
	}
	in := cfg.Instance
	in.ID = cmp.Or(in.ID, discovery.AddrID(in.Addr))
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("%w: Instance: %w", ErrConfig, err)
	}
	if strings.Contains(in.ID, "/") {
		return nil, fmt.Errorf("%w: Instance ID %q has a '/'", ErrConfig, in.ID)
	}
	cfg.TTL = cmp.Or(cfg.TTL, 10*time.Second)
	if cfg.TTL < 2*time.Second {
		return nil, fmt.Errorf("%w: TTL %v is below 2s", ErrConfig, cfg.TTL)
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Second)
	b, err := json.Marshal(entry{
		ID: in.ID, Addr: in.Addr.String(), Weight: in.Weight,
		Cloud: in.Locality.Cloud, Region: in.Locality.Region, Zone: in.Locality.Zone,
		Labels: in.Labels, Metadata: in.Metadata,
	})
	if err != nil {
		return nil, fmt.Errorf("registry/etcd: %w", err)
	}
	r := &Registration{cfg: cfg, key: cfg.Prefix + cfg.Service + "/" + in.ID, value: string(b), log: cmp.Or(cfg.Logger, slog.Default()), done: make(chan struct{})}
	if err := r.write(ctx); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.keep()
	return r, nil
}

// Key returns the key the instance is registered under.
func (r *Registration) Key() string { return r.key }

// Err returns the last failure to register again after a lost lease, nil
// while the registration holds.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// write grants a lease and puts the key under it.
func (r *Registration) write(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	g, err := r.cfg.Client.Grant(ctx, int64((r.cfg.TTL+time.Second-1)/time.Second))
	if err != nil {
		return fmt.Errorf("registry/etcd: grant a lease: %w", err)
	}
	if _, err := r.cfg.Client.Put(ctx, r.key, r.value, clientv3.WithLease(g.ID)); err != nil {
		rctx, rcancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
		_, _ = r.cfg.Client.Revoke(rctx, g.ID)
		rcancel()
		return fmt.Errorf("registry/etcd: put %s: %w", r.key, err)
	}
	r.mu.Lock()
	r.lease = g.ID
	r.mu.Unlock()
	return nil
}

// keep keeps the lease alive and, when it is lost, registers again with a
// backoff of 1s doubling to 30s, until Close.
func (r *Registration) keep() {
	defer close(r.done)
	backoff := time.Second
	for {
		r.mu.Lock()
		lease := r.lease
		r.mu.Unlock()
		if lease != 0 {
			ch, err := r.cfg.Client.KeepAlive(r.ctx, lease)
			if err == nil {
				for range ch { // ends when the lease is lost or r.ctx ends
				}
			}
			if r.ctx.Err() != nil {
				return
			}
			r.log.Warn("registration lost its lease; registering again", "key", r.key, "err", err)
			r.mu.Lock()
			r.lease = 0
			r.mu.Unlock()
		}
		if err := r.write(r.ctx); err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			t := time.NewTimer(backoff)
			select {
			case <-r.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		r.mu.Lock()
		r.err = nil
		r.mu.Unlock()
		backoff = time.Second
		r.log.Info("registered again", "key", r.key)
	}
}

// Close stops keeping the lease alive and revokes it, which deletes the
// key at once, and waits for the keep-alive to stop. It returns the
// revoke's error (the key then goes when the lease runs out).
func (r *Registration) Close(ctx context.Context) error {
	r.cancel()
	<-r.done
	r.mu.Lock()
	lease := r.lease
	r.lease = 0
	r.mu.Unlock()
	if lease == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if _, err := r.cfg.Client.Revoke(ctx, lease); err != nil {
		return fmt.Errorf("registry/etcd: revoke the lease of %s: %w", r.key, err)
	}
	return nil
}
