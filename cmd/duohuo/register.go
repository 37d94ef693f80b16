package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/internal/config"
	regconsul "github.com/duohuo/duohuo/registry/consul"
	regetcd "github.com/duohuo/duohuo/registry/etcd"
	regnacos "github.com/duohuo/duohuo/registry/nacos"
)

// registration is duohuo serve registering the gateway itself
// (config.Registration): it registers once the listeners serve, keeps
// trying in the background while the registry refuses or cannot be
// reached (the gateway serves meanwhile), and deregisters first on
// shutdown, before the listeners drain, so that clients stop sending here
// while the requests in flight finish.
type registration struct {
	log    *slog.Logger
	what   string // "nacos", "consul" or "etcd", for logs
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex // guards the fields below
	closer  func(context.Context) error
	cleanup func() // closes the etcd client, if any
}

// startRegistration starts registering the gateway as cfg.Registration
// says; nil without one. The address comes from the file (or its first
// listener), the locality from site.
func startRegistration(cfg *config.Config, log *slog.Logger) (*registration, error) {
	rc := cfg.Registration
	if rc == nil {
		return nil, nil
	}
	addrText, err := cfg.RegistrationAddress()
	if err != nil {
		return nil, err
	}
	in, err := registeredInstance(addrText, cfg)
	if err != nil {
		return nil, fmt.Errorf("registration.address: %w", err)
	}
	r := &registration{log: log.With("component", "registration", "service", rc.Service, "addr", in.Addr), done: make(chan struct{})}
	register, err := r.registrar(rc, in)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx, register)
	return r, nil
}

// registeredInstance is the instance registered for the gateway at addr
// ("host:port"; a host name is resolved once, now).
func registeredInstance(addr string, cfg *config.Config) (discovery.Instance, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		host, port, serr := splitHostPort(addr)
		if serr != nil || port < 1 || port > 65535 {
			return discovery.Instance{}, fmt.Errorf("%q is not host:port", addr)
		}
		ips, lerr := lookupHost(host)
		if lerr != nil || len(ips) == 0 {
			return discovery.Instance{}, fmt.Errorf("resolve %s: %v", host, lerr)
		}
		ap = netip.AddrPortFrom(ips[0], uint16(port))
	}
	rc := cfg.Registration
	return discovery.Instance{
		Addr:     ap,
		Weight:   uint32(rc.Weight),
		Locality: discovery.Locality{Cloud: cfg.Site.Cloud, Region: cfg.Site.Region, Zone: cfg.Site.Zone},
		Labels:   rc.Labels,
	}, nil
}

// registrar returns the function that registers once, for the registry
// the file names.
func (r *registration) registrar(rc *config.Registration, in discovery.Instance) (func(context.Context) (func(context.Context) error, error), error) {
	switch {
	case rc.Nacos != nil:
		r.what = "nacos"
		n := rc.Nacos
		pw, err := n.Password()
		if err != nil {
			return nil, fmt.Errorf("registration.nacos: %w", err)
		}
		tlsCfg, err := n.TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("registration.nacos.tls: %w", err)
		}
		c := regnacos.Config{Servers: n.Servers, Namespace: n.Namespace, Group: n.Group, Cluster: n.Cluster, Service: rc.Service,
			Instance: in, Username: n.Username, Password: pw, TLS: tlsCfg, Interval: time.Duration(n.Interval), Logger: r.log}
		return func(ctx context.Context) (func(context.Context) error, error) {
			reg, err := regnacos.Register(ctx, c)
			if err != nil {
				return nil, err
			}
			return reg.Close, nil
		}, nil
	case rc.Consul != nil:
		r.what = "consul"
		cc := rc.Consul
		token, err := cc.Token()
		if err != nil {
			return nil, fmt.Errorf("registration.consul: %w", err)
		}
		tlsCfg, err := cc.TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("registration.consul.tls: %w", err)
		}
		c := regconsul.Config{Agents: cc.Agents, Service: rc.Service, Instance: in, Tags: cc.Tags, Token: token, TLS: tlsCfg,
			TTL: time.Duration(cc.TTL), DeregisterAfter: time.Duration(cc.DeregisterAfter), Logger: r.log}
		return func(ctx context.Context) (func(context.Context) error, error) {
			reg, err := regconsul.Register(ctx, c)
			if err != nil {
				return nil, err
			}
			return reg.Close, nil
		}, nil
	default:
		r.what = "etcd"
		e := rc.Etcd
		pw, err := e.Password()
		if err != nil {
			return nil, fmt.Errorf("registration.etcd: %w", err)
		}
		tlsCfg, err := e.TLS.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("registration.etcd.tls: %w", err)
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints, Username: e.Username, Password: pw, TLS: tlsCfg,
			DialTimeout: 5 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("registration.etcd: %w", err)
		}
		r.cleanup = func() { cli.Close() }
		c := regetcd.Config{Client: cli, Prefix: e.Prefix, Service: rc.Service, Instance: in, TTL: time.Duration(e.TTL), Logger: r.log}
		return func(ctx context.Context) (func(context.Context) error, error) {
			reg, err := regetcd.Register(ctx, c)
			if err != nil {
				return nil, err
			}
			return reg.Close, nil
		}, nil
	}
}

// run registers, again and again with a backoff of 1s doubling to 30s
// while it fails, until it succeeds or ctx ends.
func (r *registration) run(ctx context.Context, register func(context.Context) (func(context.Context) error, error)) {
	defer close(r.done)
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		closer, err := register(ctx)
		if err == nil {
			r.mu.Lock()
			r.closer = closer
			r.mu.Unlock()
			r.log.Info("registered", "registry", r.what)
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("registration failed; the gateway serves and tries again", "registry", r.what, "attempt", attempt, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// Close stops trying and deregisters, within ctx.
func (r *registration) Close(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.cancel()
	<-r.done
	r.mu.Lock()
	closer := r.closer
	r.closer = nil
	r.mu.Unlock()
	var err error
	if closer != nil {
		if err = closer(ctx); err == nil {
			r.log.Info("deregistered", "registry", r.what)
		}
	}
	if r.cleanup != nil {
		r.cleanup()
	}
	return err
}

// lookupHost resolves a host name to its addresses, IPv4 first.
func lookupHost(host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(ips, func(a, b netip.Addr) int {
		switch {
		case a.Is4() && !b.Is4():
			return -1
		case !a.Is4() && b.Is4():
			return 1
		}
		return 0
	})
	return ips, nil
}
