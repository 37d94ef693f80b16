// Package nacos registers an instance in Nacos as an ephemeral instance
// kept alive by heartbeats, over the v1 open API that every Nacos 1.x,
// 2.x and 3.x server answers (nacos.core.api.compatibility.client.enabled
// is on by default in 3.x): POST /nacos/v1/ns/instance to register, PUT
// /nacos/v1/ns/instance/beat every interval, DELETE /nacos/v1/ns/instance
// on Close. A process that dies without closing turns unhealthy after
// 15s without a beat and is removed after 30s (the server's
// preserved.heart.beat.timeout and preserved.ip.delete.timeout), so
// discovery/nacos sees it leave.
//
//	reg, err := nacos.Register(ctx, nacos.Config{
//		Servers:  []string{"http://10.0.0.9:8848"},
//		Service:  "api",
//		Instance: discovery.Instance{Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100},
//	})
//	if err != nil {
//		return err
//	}
//	defer reg.Close(context.Background()) // deregisters at once
package nacos

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duohuo/duohuo/discovery"
	nacossrc "github.com/duohuo/duohuo/discovery/nacos"
	"github.com/duohuo/duohuo/registry"
)

// ErrConfig means a Config is unusable; Register says which field.
var ErrConfig = errors.New("registry/nacos: bad config")

// Config says what to register where.
type Config struct {
	// Servers are the Nacos servers, as discovery/nacos takes them
	// ("10.0.0.9:8848", "https://nacos.example.com/nacos"; the context
	// path defaults to /nacos); a request that fails goes to the next one.
	Servers []string
	// Namespace is the namespace ID; empty means "public".
	Namespace string
	// Group is the service's group; empty means "DEFAULT_GROUP".
	Group string
	// Service is the service name.
	Service string
	// Cluster is the instance's cluster; empty means "DEFAULT".
	Cluster string
	// Instance is what is registered: its address, weight (duohuo's 100
	// is Nacos's 1.0, as discovery/nacos reads it), locality (written as
	// the metadata keys cloud, region and zone, which discovery/nacos
	// reads by default), labels and metadata (both into Nacos's metadata,
	// which discovery/nacos reads as labels). ID is not used: Nacos names
	// an instance by its address and cluster.
	Instance discovery.Instance
	// Username and Password log in (POST /nacos/v1/auth/login) when
	// Username is set; the token is renewed before it expires.
	Username, Password string
	// TLS configures https servers; nil uses the system's roots.
	TLS *tls.Config
	// Interval is the time between heartbeats. If zero, 5s, the Nacos
	// clients' default (clientBeatInterval); at most 10s, so that one lost
	// beat does not make the instance unhealthy.
	Interval time.Duration
	// Timeout bounds each request. If zero, 3s.
	Timeout time.Duration
	// Logger receives the heartbeats that fail and the registrations made
	// again. If nil, slog.Default().
	Logger *slog.Logger
}

// Registration is an instance registered in Nacos. Its methods are safe
// for concurrent use.
type Registration struct {
	cfg    Config
	form   url.Values // the instance's registration parameters
	beat   string     // the beat parameter
	client *http.Client
	log    *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex // guards the fields below
	server  int        // the server that answered last
	token   string
	expires time.Time
	err     error // the last failed heartbeat, nil once one succeeds
}

// Register registers the instance and keeps it alive with heartbeats until
// Close. It returns once a server has accepted the registration.
func Register(ctx context.Context, cfg Config) (*Registration, error) {
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("%w: Servers is empty", ErrConfig)
	}
	servers := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		u, err := nacossrc.ServerURL(s)
		if err != nil {
			return nil, fmt.Errorf("%w: Servers[%d]: %w", ErrConfig, i, err)
		}
		servers[i] = u
	}
	cfg.Servers = servers
	if err := discovery.CheckService(cfg.Service); err != nil {
		return nil, fmt.Errorf("%w: Service: %w", ErrConfig, err)
	}
	in := cfg.Instance
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("%w: Instance: %w", ErrConfig, err)
	}
	cfg.Interval = cmp.Or(cfg.Interval, 5*time.Second)
	if cfg.Interval > 10*time.Second || cfg.Interval < 100*time.Millisecond {
		return nil, fmt.Errorf("%w: Interval %v is outside 100ms to 10s (the server marks an instance unhealthy after 15s without a beat)", ErrConfig, cfg.Interval)
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 3*time.Second)
	cfg.Cluster = cmp.Or(cfg.Cluster, "DEFAULT")

	// Nacos has one metadata map, which discovery/nacos reads as labels.
	meta := registry.Metadata(in)
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("registry/nacos: %w", err)
	}
	weight := strconv.FormatFloat(float64(in.Weight)/float64(discovery.DefaultWeight), 'f', -1, 64)
	ip, port := in.Addr.Addr().Unmap().String(), strconv.Itoa(int(in.Addr.Port()))
	form := url.Values{
		"serviceName": {cfg.Service},
		"groupName":   {cmp.Or(cfg.Group, "DEFAULT_GROUP")},
		"namespaceId": {cmp.Or(cfg.Namespace, "public")},
		"clusterName": {cfg.Cluster},
		"ip":          {ip},
		"port":        {port},
		"weight":      {weight},
		"enabled":     {"true"},
		"healthy":     {"true"},
		"ephemeral":   {"true"},
		"metadata":    {string(metaJSON)},
	}
	beat, err := json.Marshal(map[string]any{
		"ip": ip, "port": int(in.Addr.Port()), "cluster": cfg.Cluster, "serviceName": cmp.Or(cfg.Group, "DEFAULT_GROUP") + "@@" + cfg.Service,
		"weight": float64(in.Weight) / float64(discovery.DefaultWeight), "metadata": meta, "scheduled": true,
	})
	if err != nil {
		return nil, fmt.Errorf("registry/nacos: %w", err)
	}
	r := &Registration{
		cfg: cfg, form: form, beat: string(beat), log: cmp.Or(cfg.Logger, slog.Default()),
		client: registry.HTTPClient(cfg.TLS, cfg.Timeout),
		done:   make(chan struct{}),
	}
	if _, err := r.call(ctx, http.MethodPost, "/v1/ns/instance", form); err != nil {
		r.client.CloseIdleConnections()
		return nil, fmt.Errorf("registry/nacos: register %s in %s: %w", in.Addr, cfg.Service, err)
	}
	var kctx context.Context
	kctx, r.cancel = context.WithCancel(context.Background())
	go r.keep(kctx)
	return r, nil
}

// Err returns the last failed heartbeat, nil while heartbeats succeed.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// keep sends a heartbeat every interval until ctx ends. A beat the server
// answers with code 20404 (it no longer knows the instance: it was removed
// while this process could not reach any server, or the server restarted)
// is followed by a registration.
func (r *Registration) keep(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.heartbeat(ctx)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		prev := r.err
		r.err = err
		r.mu.Unlock()
		switch {
		case err != nil && prev == nil:
			r.log.Warn("nacos heartbeat failed; the instance turns unhealthy after 15s without one", "service", r.cfg.Service, "err", err)
		case err == nil && prev != nil:
			r.log.Info("nacos heartbeats succeed again", "service", r.cfg.Service)
		}
	}
}

// heartbeat sends one beat, and registers again when the server does not
// know the instance.
func (r *Registration) heartbeat(ctx context.Context) error {
	q := url.Values{
		"serviceName": r.form["serviceName"], "groupName": r.form["groupName"],
		"namespaceId": r.form["namespaceId"], "clusterName": r.form["clusterName"],
		"ip": r.form["ip"], "port": r.form["port"], "ephemeral": {"true"}, "beat": {r.beat},
	}
	body, err := r.call(ctx, http.MethodPut, "/v1/ns/instance/beat", q)
	if err != nil {
		return err
	}
	var ans struct {
		Code int `json:"code"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("beat: answer is not JSON: %q", snippet(body))
	}
	if ans.Code == 20404 { // NamingResponseCode.RESOURCE_NOT_FOUND
		r.log.Info("nacos no longer knows the instance; registering it again", "service", r.cfg.Service)
		if _, err := r.call(ctx, http.MethodPost, "/v1/ns/instance", r.form); err != nil {
			return fmt.Errorf("register again: %w", err)
		}
	}
	return nil
}

// Close stops the heartbeats and deregisters the instance at once. The
// registration is closed even when the deregistration fails: the server
// then removes the instance 30s after its last heartbeat.
func (r *Registration) Close(ctx context.Context) error {
	r.cancel()
	<-r.done
	defer r.client.CloseIdleConnections()
	if _, err := r.call(ctx, http.MethodDelete, "/v1/ns/instance", r.form); err != nil {
		return fmt.Errorf("registry/nacos: deregister %s from %s: %w", r.cfg.Instance.Addr, r.cfg.Service, err)
	}
	return nil
}

// call sends a request to the servers in turn, starting with the one that
// answered last, logging in first when credentials are set, and returns
// the first 2xx answer's body.
func (r *Registration) call(ctx context.Context, method, path string, q url.Values) ([]byte, error) {
	r.mu.Lock()
	start := r.server
	r.mu.Unlock()
	var errs []error
	for i := range r.cfg.Servers {
		idx := (start + i) % len(r.cfg.Servers)
		body, err := r.callOne(ctx, idx, method, path, q)
		if err == nil {
			r.mu.Lock()
			r.server = idx
			r.mu.Unlock()
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("server %s: %w", r.cfg.Servers[idx], err))
	}
	return nil, errors.Join(errs...)
}

func (r *Registration) callOne(ctx context.Context, idx int, method, path string, q url.Values) ([]byte, error) {
	tok, err := r.accessToken(ctx, idx, false)
	if err != nil {
		return nil, err
	}
	body, code, err := r.do(ctx, method, r.cfg.Servers[idx]+path, q, tok)
	if err == nil && code == http.StatusForbidden && r.cfg.Username != "" {
		// A token the server no longer accepts (a restart with a new
		// key): log in once more.
		if tok, err = r.accessToken(ctx, idx, true); err != nil {
			return nil, err
		}
		body, code, err = r.do(ctx, method, r.cfg.Servers[idx]+path, q, tok)
	}
	switch {
	case err != nil:
		return nil, err
	case code/100 != 2:
		return nil, fmt.Errorf("%s %s: status %d: %q", method, path, code, snippet(body))
	}
	return body, nil
}

// accessToken returns a token for the servers, logging in when there is
// none, it expires within a minute, or renew is set. Without Username it
// returns "".
func (r *Registration) accessToken(ctx context.Context, idx int, renew bool) (string, error) {
	if r.cfg.Username == "" {
		return "", nil
	}
	r.mu.Lock()
	tok, exp := r.token, r.expires
	r.mu.Unlock()
	if tok != "" && !renew && time.Until(exp) > time.Minute {
		return tok, nil
	}
	body, code, err := r.do(ctx, http.MethodPost, r.cfg.Servers[idx]+"/v1/auth/login",
		url.Values{"username": {r.cfg.Username}, "password": {r.cfg.Password}}, "")
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("login as %s: status %d: %q", r.cfg.Username, code, snippet(body))
	}
	var ans struct {
		AccessToken string `json:"accessToken"`
		TokenTTL    int64  `json:"tokenTtl"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.AccessToken == "" {
		return "", fmt.Errorf("login as %s: no accessToken in %q", r.cfg.Username, snippet(body))
	}
	r.mu.Lock()
	r.token, r.expires = ans.AccessToken, time.Now().Add(time.Duration(ans.TokenTTL)*time.Second)
	r.mu.Unlock()
	return ans.AccessToken, nil
}

// do sends one request and reads at most 64 KiB of the answer. The
// parameters go in the query, as the open API's documentation sends them
// (a DELETE's form body is not read by every server), the token with
// them; a login's credentials go in a form body, out of access logs.
func (r *Registration) do(ctx context.Context, method, target string, params url.Values, token string) ([]byte, int, error) {
	var body io.Reader
	if strings.HasSuffix(target, "/auth/login") {
		body = strings.NewReader(params.Encode())
	} else {
		q := params
		if token != "" {
			q = url.Values{"accessToken": {token}}
			for k, v := range params {
				q[k] = v
			}
		}
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, redact(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, 0, redact(err)
	}
	return b, resp.StatusCode, nil
}

// redact removes the query string (which holds the access token) from the
// URL that net/http errors quote.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

func snippet(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
