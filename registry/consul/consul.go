// Package consul registers an instance with a Consul agent, with a TTL
// check that the registration passes periodically, so that the instance
// turns critical (and leaves discovery/consul's view) when the process
// stops passing it, and is removed by the agent once critical for a while
// (DeregisterCriticalServiceAfter). Close deregisters at once.
//
//	reg, err := consul.Register(ctx, consul.Config{
//		Agents:   []string{"http://127.0.0.1:8500"},
//		Service:  "api",
//		Instance: discovery.Instance{Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100},
//	})
//	if err != nil {
//		return err
//	}
//	defer reg.Close(context.Background()) // deregisters at once
//
// The agent API: PUT /v1/agent/service/register, PUT
// /v1/agent/check/pass/service:<ID>, PUT
// /v1/agent/service/deregister/<ID>. A registration belongs to the agent
// it was made on: register with the local agent (Consul's advice), and
// list others only as fallbacks.
package consul

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/duohuo/duohuo/discovery"
	consulsrc "github.com/duohuo/duohuo/discovery/consul"
	"github.com/duohuo/duohuo/registry"
)

// ErrConfig means a Config is unusable; Register says which field.
var ErrConfig = errors.New("registry/consul: bad config")

// Config says what to register where.
type Config struct {
	// Agents are the Consul agents, as discovery/consul takes its servers
	// ("127.0.0.1:8500", "https://consul.service:8501"); a request that
	// fails goes to the next one.
	Agents []string
	// Service is the service name.
	Service string
	// Instance is what is registered: its address, weight (duohuo's 100
	// is Consul's 1, as discovery/consul reads Service.Weights; below
	// 100 it rounds to 1, Consul's least), locality (as the service meta
	// keys cloud, region and zone, which discovery/consul reads by
	// default), labels and metadata (both as service meta, which
	// discovery/consul reads as labels). Its ID is the service ID; if
	// empty, "<service>-<address>".
	Instance discovery.Instance
	// Tags are the service's tags.
	Tags []string
	// Token is the ACL token (X-Consul-Token); it needs service:write.
	Token string
	// TLS configures https agents; nil uses the system's roots.
	TLS *tls.Config
	// TTL is the check's time to live, at least 100ms; it is passed every
	// third of it. If zero, 15s.
	TTL time.Duration
	// DeregisterAfter is how long the check may stay critical before the
	// agent removes the service. If zero, 1m, Consul's least.
	DeregisterAfter time.Duration
	// Timeout bounds each request. If zero, 3s.
	Timeout time.Duration
	// Logger receives failed passes and registrations made again. If
	// nil, slog.Default().
	Logger *slog.Logger
}

// Registration is an instance registered with a Consul agent. Its methods
// are safe for concurrent use.
type Registration struct {
	cfg    Config
	id     string
	body   []byte // the service definition
	client *http.Client
	log    *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex // guards the fields below
	agent  int        // the agent that answered last
	err    error      // the last failed pass, nil once one succeeds
	passes int
}

type definition struct {
	ID      string
	Name    string
	Tags    []string          `json:",omitempty"`
	Address string            `json:",omitempty"`
	Port    int               `json:",omitempty"`
	Meta    map[string]string `json:",omitempty"`
	Weights struct{ Passing, Warning int }
	Check   struct {
		CheckID                        string
		TTL                            string
		Status                         string
		DeregisterCriticalServiceAfter string
	}
}

// Register registers the service with a TTL check that starts passing, and
// passes it every third of the TTL until Close. It returns once an agent
// has accepted the registration.
func Register(ctx context.Context, cfg Config) (*Registration, error) {
	if len(cfg.Agents) == 0 {
		return nil, fmt.Errorf("%w: Agents is empty", ErrConfig)
	}
	agents := make([]string, len(cfg.Agents))
	for i, a := range cfg.Agents {
		u, err := consulsrc.ServerURL(a)
		if err != nil {
			return nil, fmt.Errorf("%w: Agents[%d]: %w", ErrConfig, i, err)
		}
		agents[i] = u
	}
	cfg.Agents = agents
	if err := discovery.CheckService(cfg.Service); err != nil {
		return nil, fmt.Errorf("%w: Service: %w", ErrConfig, err)
	}
	in := cfg.Instance
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("%w: Instance: %w", ErrConfig, err)
	}
	cfg.TTL = cmp.Or(cfg.TTL, 15*time.Second)
	if cfg.TTL < 100*time.Millisecond {
		return nil, fmt.Errorf("%w: TTL %v is below 100ms", ErrConfig, cfg.TTL)
	}
	cfg.DeregisterAfter = cmp.Or(cfg.DeregisterAfter, time.Minute)
	cfg.Timeout = cmp.Or(cfg.Timeout, 3*time.Second)
	id := cmp.Or(in.ID, cfg.Service+"-"+in.Addr.String())

	d := definition{ID: id, Name: cfg.Service, Tags: cfg.Tags, Address: in.Addr.Addr().Unmap().String(), Port: int(in.Addr.Port())}
	d.Meta = registry.Metadata(in)
	w := int(max(1, math.Round(float64(in.Weight)/float64(discovery.DefaultWeight))))
	d.Weights.Passing, d.Weights.Warning = w, w
	d.Check.CheckID = "service:" + id
	d.Check.TTL = cfg.TTL.String()
	d.Check.Status = "passing"
	d.Check.DeregisterCriticalServiceAfter = cfg.DeregisterAfter.String()
	body, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("registry/consul: %w", err)
	}
	r := &Registration{
		cfg: cfg, id: id, body: body, log: cmp.Or(cfg.Logger, slog.Default()),
		client: registry.HTTPClient(cfg.TLS, cfg.Timeout),
		done:   make(chan struct{}),
	}
	if _, err := r.call(ctx, "/v1/agent/service/register", body); err != nil {
		r.client.CloseIdleConnections()
		return nil, fmt.Errorf("registry/consul: register %s: %w", id, err)
	}
	var kctx context.Context
	kctx, r.cancel = context.WithCancel(context.Background())
	go r.keep(kctx)
	return r, nil
}

// ID returns the service ID registered.
func (r *Registration) ID() string { return r.id }

// Err returns the last failed pass, nil while passes succeed.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// keep passes the check every TTL/3 until ctx ends; when the agent does
// not know the check (it removed the service, or restarted without it) it
// registers again.
func (r *Registration) keep(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		code, err := r.call(ctx, "/v1/agent/check/pass/"+url.PathEscape("service:"+r.id), nil)
		if code == http.StatusNotFound {
			r.log.Info("the consul agent no longer knows the service; registering it again", "service", r.cfg.Service, "id", r.id)
			_, err = r.call(ctx, "/v1/agent/service/register", r.body)
		}
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		prev := r.err
		r.err = err
		if err == nil {
			r.passes++
		}
		r.mu.Unlock()
		switch {
		case err != nil && prev == nil:
			r.log.Warn("consul TTL check not passed; the service turns critical after its TTL", "service", r.cfg.Service, "id", r.id, "ttl", r.cfg.TTL, "err", err)
		case err == nil && prev != nil:
			r.log.Info("consul TTL check passed again", "service", r.cfg.Service, "id", r.id)
		}
	}
}

// Close stops passing the check and deregisters the service at once. The
// registration is closed even when the deregistration fails: the agent
// then removes it DeregisterAfter after its check turned critical.
func (r *Registration) Close(ctx context.Context) error {
	r.cancel()
	<-r.done
	defer r.client.CloseIdleConnections()
	if code, err := r.call(ctx, "/v1/agent/service/deregister/"+url.PathEscape(r.id), nil); err != nil && code != http.StatusNotFound {
		return fmt.Errorf("registry/consul: deregister %s: %w", r.id, err)
	}
	return nil
}

// call sends a PUT to the agents in turn, starting with the one that
// answered last. It returns the status of the last answer, and an error
// unless it was 2xx. A 404 is an answer, not a reason to try another
// agent: registrations are per agent.
func (r *Registration) call(ctx context.Context, path string, body []byte) (int, error) {
	r.mu.Lock()
	start := r.agent
	r.mu.Unlock()
	var errs []error
	for i := range r.cfg.Agents {
		idx := (start + i) % len(r.cfg.Agents)
		code, err := r.put(ctx, r.cfg.Agents[idx]+path, body)
		if err == nil && code/100 == 2 {
			r.mu.Lock()
			r.agent = idx
			r.mu.Unlock()
			return code, nil
		}
		if code == http.StatusNotFound || code == http.StatusForbidden || code == http.StatusBadRequest {
			return code, fmt.Errorf("agent %s: PUT %s: %w", r.cfg.Agents[idx], path, err)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("agent %s: %w", r.cfg.Agents[idx], err))
	}
	return 0, errors.Join(errs...)
}

// put sends one request and reads (and drops) at most 64 KiB of the
// answer, whose start becomes part of the error for a non-2xx status.
func (r *Registration) put(ctx context.Context, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if r.cfg.Token != "" {
		req.Header.Set("X-Consul-Token", r.cfg.Token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return resp.StatusCode, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
	}
	return resp.StatusCode, nil
}
