package nacos

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/duohuo/duohuo/discovery"
)

// Errors that callers branch on.
var (
	// ErrConfig means a Config is unusable; NewSource says which field.
	ErrConfig = errors.New("nacos: bad config")
	// ErrAuth means a server refused the credentials (login) or the
	// access token (a list answered 401 or 403 even after a fresh login).
	ErrAuth = errors.New("nacos: authentication refused")
	// ErrAPIDisabled means a server answered 410 Gone: a Nacos 3.x server
	// with the 1.x/2.x open API switched off
	// (nacos.core.api.compatibility.client.enabled=false).
	ErrAPIDisabled = errors.New("nacos: open API disabled on the server (410 Gone)")
	// ErrBadAnswer is an answer that is not a Nacos instance list: a
	// status other than 200, a body that is not the expected JSON, or one
	// larger than 16 MiB.
	ErrBadAnswer = errors.New("nacos: bad answer")
	// ErrBadInstance is wrapped by the error recorded for hosts that cannot
	// be instances (a host name instead of an IP, a port out of range, a
	// negative weight, an address listed twice). They are left out; every
	// other host is served.
	ErrBadInstance = errors.New("nacos: bad instance")
	// ErrEmptyAnswer is recorded while the source holds back an empty
	// answer: the service had instances and the servers now list none,
	// which is what a restarting Nacos member answers. The last good
	// instances keep serving until the answer has stayed empty for
	// Config.EmptyGrace.
	ErrEmptyAnswer = errors.New("nacos: empty answer held back")
)

// LocalityKeys name the instance metadata keys that hold an instance's
// locality. An empty field takes the default written on it.
type LocalityKeys struct {
	Cloud  string // if empty, "cloud"
	Region string // if empty, "region"
	Zone   string // if empty, "zone"
}

// Config configures a [Source]. Service and Servers are required; every
// other zero field takes the default written on it.
type Config struct {
	// Service is the duohuo service the instances belong to.
	Service string
	// Name is the Nacos service name. If empty, Service.
	Name string
	// Namespace is the Nacos namespace ID. If empty, "public".
	Namespace string
	// Group is the Nacos group. If empty, "DEFAULT_GROUP".
	Group string
	// Clusters, when not empty, keeps only the instances of these Nacos
	// clusters.
	Clusters []string

	// Servers are the Nacos servers: "10.0.0.1:8848",
	// "http://nacos-1:8848", "https://nacos.example.com/nacos". A missing
	// scheme is http, a missing port 8848 and a missing path "/nacos" (the
	// server's context path). The source sticks to the server that last
	// answered and moves on to the next, in order, when one fails.
	Servers []string
	// TLS configures https servers. If nil, the system roots.
	TLS *tls.Config

	// Username and Password log in (POST /nacos/v1/auth/login) when the
	// servers require authentication. The access token is renewed before
	// it expires (at nine tenths of the tokenTtl the server grants, as the
	// Nacos Java client does) and at once when a server rejects it. If
	// Username is empty, no login.
	Username, Password string

	// Interval is the time between two reads of the instance list, plus up
	// to a tenth of random jitter. If zero, 10s; it must be between 1s and
	// 10m.
	Interval time.Duration
	// Timeout bounds one request to one server (login or list), so that a
	// server that accepts connections and never answers cannot stall the
	// source. If zero, 5s.
	Timeout time.Duration
	// EmptyGrace is how long the servers must keep answering an empty list
	// for a service that had instances before the source believes it. A
	// restarting Nacos member answers empty lists until its data is back,
	// and ephemeral instances re-register within their 5s heartbeat. If
	// zero, 60s.
	EmptyGrace time.Duration

	// Locality is stamped on every instance; metadata under LocalityKeys
	// overrides it field by field.
	Locality     discovery.Locality
	LocalityKeys LocalityKeys

	// SourceName is the source's name. If empty, "nacos:" followed by
	// Namespace, Group and Name joined with "/".
	SourceName string

	// Now and After are the clock; tests inject one to control polls and
	// token lifetimes. If nil, time.Now and time.After. After's channel
	// must deliver once.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Source polls a Nacos service's instance list over the HTTP open API
// (GET /nacos/v1/ns/instance/list, which Nacos 2.x serves and 3.x still
// serves by default) and reports the instances of one duohuo service. It is
// safe for concurrent use; each Watch runs its own poll loop.
//
// Mapping: an instance's ip and port are its address (host names are left
// out; use a DNS source), its metadata its labels (an entry that cannot be a
// label, e.g. a value over 256 bytes, goes to Metadata, or is dropped if it
// cannot be that either), and the metadata keys of Config.LocalityKeys its
// locality. Its Nacos cluster and instance ID are in Metadata
// ("nacos_cluster", "nacos_instance_id"). Instances with enabled: false are
// left out, and so are those with healthy: false.
//
// Weights: Nacos weights are decimals (default 1.0, up to 10000); each is
// multiplied by 100, so 1.0 is [discovery.DefaultWeight] and 0.5 is 50.
// When the largest weight of the answer would exceed [discovery.MaxWeight]
// every weight is scaled down by the same factor instead, which keeps their
// ratios. Weight 0 stays 0 (drained); any other weight is at least 1.
//
// Protect threshold: when the share of healthy instances falls to a
// service's protect threshold (by default 0, so when none is healthy),
// Nacos lists every instance, rewrites the unhealthy ones to healthy: true
// and sets reachProtectionThreshold. The source then publishes every
// instance with HealthUnknown set: Nacos's healthy flags are meaningless,
// and duohuo's own health checks decide. The source always asks with
// healthyOnly=false: with healthyOnly=true a Nacos server never applies the
// threshold and answers an empty list instead.
//
// Failures: a server that fails (connection, Timeout, a status other than
// 200, a bad body) is skipped for the next one; when every server fails the
// error is recorded with Updater.Fail and the last good instances keep
// serving. An empty list for a service that had instances is asked of the
// other servers first, and believed only once the servers have answered
// empty for EmptyGrace ([ErrEmptyAnswer] meanwhile): Nacos members that
// restart answer empty lists until their data is back (alibaba/nacos#10209,
// #4470, #7697).
type Source struct {
	cfg     Config
	name    string
	servers []*url.URL
	client  *http.Client
}

var _ discovery.Source = (*Source)(nil)

// NewSource checks cfg and returns a Source. The error wraps [ErrConfig]
// and names the field.
func NewSource(cfg Config) (*Source, error) {
	if err := discovery.CheckService(cfg.Service); err != nil {
		return nil, fmt.Errorf("%w: Service: %w", ErrConfig, err)
	}
	cfg.Name = cmp.Or(cfg.Name, cfg.Service)
	cfg.Namespace = cmp.Or(cfg.Namespace, "public")
	cfg.Group = cmp.Or(cfg.Group, "DEFAULT_GROUP")
	for field, v := range map[string]string{"Name": cfg.Name, "Namespace": cfg.Namespace, "Group": cfg.Group} {
		if strings.Contains(v, "@@") || strings.TrimSpace(v) != v || hasControl(v) {
			return nil, fmt.Errorf("%w: %s %q has spaces, control characters or \"@@\"", ErrConfig, field, v)
		}
	}
	cfg.Clusters = slices.Clone(cfg.Clusters)
	for _, c := range cfg.Clusters {
		if c == "" || strings.Contains(c, ",") || hasControl(c) {
			return nil, fmt.Errorf("%w: Clusters: %q is empty or has a comma or control character", ErrConfig, c)
		}
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("%w: Servers is empty", ErrConfig)
	}
	s := &Source{}
	for _, raw := range cfg.Servers {
		u, err := parseServer(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: Servers: %w", ErrConfig, err)
		}
		s.servers = append(s.servers, u)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, fmt.Errorf("%w: Password is set without Username", ErrConfig)
	}
	cfg.Interval = cmp.Or(cfg.Interval, 10*time.Second)
	if cfg.Interval < time.Second || cfg.Interval > 10*time.Minute {
		return nil, fmt.Errorf("%w: Interval %v is outside 1s..10m", ErrConfig, cfg.Interval)
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Second)
	cfg.EmptyGrace = cmp.Or(cfg.EmptyGrace, 60*time.Second)
	if cfg.Timeout < 0 || cfg.EmptyGrace < 0 {
		return nil, fmt.Errorf("%w: Timeout (%v) and EmptyGrace (%v) must be positive", ErrConfig, cfg.Timeout, cfg.EmptyGrace)
	}
	probe := discovery.Instance{Addr: probeAddr, Locality: cfg.Locality}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("%w: Locality: %w", ErrConfig, err)
	}
	cfg.LocalityKeys.Cloud = cmp.Or(cfg.LocalityKeys.Cloud, "cloud")
	cfg.LocalityKeys.Region = cmp.Or(cfg.LocalityKeys.Region, "region")
	cfg.LocalityKeys.Zone = cmp.Or(cfg.LocalityKeys.Zone, "zone")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	s.cfg = cfg
	s.name = cmp.Or(cfg.SourceName, "nacos:"+cfg.Namespace+"/"+cfg.Group+"/"+cfg.Name)
	s.client = &http.Client{
		Transport: &http.Transport{
			// Registry traffic stays inside the network: no proxy from
			// the environment.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     cfg.TLS.Clone(),
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		},
		// Redirects are not followed: a Nacos server does not redirect
		// API calls, and following one could send the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// parseServer turns "host:port", "host" or a URL into the base URL of a
// Nacos server, context path included.
func parseServer(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q: scheme %q is not http or https", raw, u.Scheme)
	}
	if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: want [http[s]://]host[:port][/context-path]", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "8848")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if u.Path == "" {
		u.Path = "/nacos"
	}
	u.RawPath = ""
	return u, nil
}

// ServerURL turns a server as the config file gives it ("host:port",
// "host" or a URL) into its base URL, with its context path (default "/nacos"): a missing scheme is http, a
// missing port 8848. The registrars of package registry/nacos use it, so
// that a server is written the same way for both.
func ServerURL(raw string) (string, error) {
	u, err := parseServer(raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Name implements [discovery.Source].
func (s *Source) Name() string { return s.name }

// Servers returns the base URLs of the servers the source asks, in order.
func (s *Source) Servers() []string {
	out := make([]string, len(s.servers))
	for i, u := range s.servers {
		out[i] = u.String()
	}
	return out
}

// Watch implements [discovery.Source]: it reads the instance list, reports
// it, and reads it again every Interval, until ctx is done.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	// Idle keep-alive connections belong to this Watch; without this
	// their goroutines would outlive it.
	defer s.client.CloseIdleConnections()
	sess := &session{src: s, preferred: rand.IntN(len(s.servers))}
	var (
		had        bool      // the last published report had instances
		emptySince time.Time // when the servers started answering empty lists
	)
	for {
		list, err := sess.poll(ctx, had)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := s.cfg.Now()
		switch {
		case err != nil:
			u.Fail(err)
		case list.empty && had && s.holdEmpty(now, &emptySince):
			u.Fail(fmt.Errorf("%w: every server lists no instance of %s since %s; serving the last good instances for up to %v",
				ErrEmptyAnswer, s.name, emptySince.Format(time.RFC3339), s.cfg.EmptyGrace))
		case len(list.instances) == 0 && len(list.bad) > 0 && had:
			// Every host is bad: not a state anyone meant. Keep the last
			// good instances.
			u.Fail(errors.Join(list.bad...))
		default:
			if !list.empty {
				emptySince = time.Time{}
			}
			// A refusal (it should not happen: instances are checked)
			// is recorded by the aggregator.
			if u.Update(map[string][]discovery.Instance{s.cfg.Service: list.instances}) == nil {
				had = len(list.instances) > 0
			}
			if len(list.bad) > 0 {
				u.Fail(errors.Join(list.bad...))
			}
		}
		wait := s.cfg.Interval + rand.N(s.cfg.Interval/10+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.cfg.After(wait):
		}
	}
}

// holdEmpty reports whether an empty answer at now is still to be held
// back, starting the grace period at the first one.
func (s *Source) holdEmpty(now time.Time, since *time.Time) bool {
	if since.IsZero() {
		*since = now
	}
	return now.Sub(*since) < s.cfg.EmptyGrace
}

func hasControl(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// probeAddr is a valid address for validating fields alone.
var probeAddr = netip.MustParseAddrPort("192.0.2.1:1")
