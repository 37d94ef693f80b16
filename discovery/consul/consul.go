package consul

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duohuo/duohuo/discovery"
)

// The source speaks Consul's HTTP API by hand rather than through
// github.com/hashicorp/consul/api: it needs one endpoint
// (/v1/health/service/:service), two headers and one query loop, and the
// loop is where the care goes (index resets, the index ≥ 1 rule, rate
// limiting, bounded requests), which a client library would still leave to
// us. Hand-written, it adds no dependency to the binary.

// Errors that callers branch on.
var (
	// ErrConfig means a Config is unusable; NewSource says which field.
	ErrConfig = errors.New("consul: bad config")
	// ErrAuth means the ACL token was refused (403: ACL not found or
	// permission denied; the token needs service:read and node:read).
	ErrAuth = errors.New("consul: ACL token refused")
	// ErrBadAnswer is an answer that is not a health-service list: a
	// status other than 200, a body that is not the expected JSON or is
	// larger than 16 MiB, or no X-Consul-Index header.
	ErrBadAnswer = errors.New("consul: bad answer")
	// ErrBadInstance is wrapped by the error recorded for entries that
	// cannot be instances (a host name as address, port 0, an address
	// listed twice). They are left out; every other entry is served.
	ErrBadInstance = errors.New("consul: bad instance")
)

// LocalityKeys name the service or node meta keys that hold an instance's
// locality; service meta wins over node meta. An empty field takes the
// default written on it.
type LocalityKeys struct {
	Cloud  string // if empty, "cloud"
	Region string // if empty, "region"
	Zone   string // if empty, "zone"
}

// Config configures a [Source]. Service is required; every other zero field
// takes the default written on it.
type Config struct {
	// Service is the duohuo service the instances belong to.
	Service string
	// Name is the Consul service name. If empty, Service.
	Name string
	// Datacenter is the Consul datacenter to ask about (?dc=). If empty,
	// the agent's own.
	Datacenter string
	// Tags, when not empty, keeps only the instances that carry every one
	// of these tags.
	Tags []string
	// OnlyPassing leaves out instances whose checks are in the warning
	// state. If false, a warning instance is kept with its
	// Service.Weights.Warning weight (Consul's own default for DNS
	// answers). Critical and maintenance instances are always left out.
	OnlyPassing bool
	// Stale lets any Consul server answer, not only the leader
	// (?stale): it spreads the read load and keeps answering while the
	// cluster has no leader, at the price of data that may lag.
	Stale bool

	// Servers are the Consul HTTP addresses, usually the local agent:
	// "127.0.0.1:8500", "https://consul.service:8501". A missing scheme is
	// http and a missing port 8500. The source sticks to the server that
	// last answered and moves on to the next, in order, when one fails. If
	// empty, "127.0.0.1:8500".
	Servers []string
	// TLS configures https servers. If nil, the system roots.
	TLS *tls.Config
	// Token is the ACL token, sent as the X-Consul-Token header. If empty,
	// none (the agent's default token applies).
	Token string

	// Wait is how long one blocking query may wait for a change (?wait=);
	// Consul adds up to Wait/16 of jitter. If zero, 60s; it must be between
	// 1s and 10m (Consul's maximum).
	Wait time.Duration
	// Timeout is how long an answer may take beyond Wait and its jitter,
	// and bounds a non-blocking query, so that a server that never answers
	// cannot stall the source. If zero, 10s.
	Timeout time.Duration
	// RateInterval paces queries when the service churns: a token bucket
	// with a burst of 2, refilled every RateInterval, lets two answers be
	// followed at once and then one per RateInterval, as Consul's
	// blocking-query documentation advises. If zero, 5s: the documentation
	// suggests about 15s, but a gateway keeps routing to a deregistered
	// instance until it sees the change, and 5s still bounds the load to
	// one query in 5s per service and gateway.
	RateInterval time.Duration
	// RetryMin and RetryMax bound the backoff after every server failed:
	// it starts at RetryMin and doubles up to RetryMax. If zero, 1s and 30s.
	RetryMin, RetryMax time.Duration

	// Locality is stamped on every instance; service or node meta under
	// LocalityKeys overrides it field by field.
	Locality     discovery.Locality
	LocalityKeys LocalityKeys

	// SourceName is the source's name. If empty, "consul:" followed by
	// Name, and "@" and Datacenter when set.
	SourceName string

	// Now and After are the clock; tests inject one to control the rate
	// limit and retries. If nil, time.Now and time.After. After's channel
	// must deliver once.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Source follows a Consul service with blocking queries on
// /v1/health/service/:service and reports its instances as those of one
// duohuo service. It is safe for concurrent use; each Watch runs its own
// query loop.
//
// Mapping: an entry's Service.Address and Service.Port are the instance's
// address, with Node.Address when the service registered none (host names
// are left out; use a DNS source). Service meta becomes labels (an entry
// that cannot be a label goes to Metadata, or is dropped); the meta keys of
// Config.LocalityKeys, in service meta then node meta, its locality. The
// node, the service ID, the datacenter and the tags are in Metadata
// ("consul_node", "consul_service_id", "consul_datacenter",
// "consul_tags").
//
// Health: an entry's state is the worst of its checks (node and service
// checks alike). Passing instances get Service.Weights.Passing; warning
// instances get Service.Weights.Warning, or are left out with
// OnlyPassing; critical ones (maintenance mode included) are left out. An
// entry without Weights has Consul's defaults, 1 and 1.
//
// Weights: each Consul weight is multiplied by 100, so Consul's default 1
// is [discovery.DefaultWeight]; when the largest weight of the answer would
// exceed [discovery.MaxWeight], every weight is scaled down by the same
// factor instead, which keeps their ratios. Weight 0 is drained.
//
// Blocking: each query sends the X-Consul-Index of the previous answer as
// ?index= and waits up to Wait. An answer is not a change (Consul returns
// at the end of the wait too); an identical report changes nothing
// downstream. If the index goes backwards (a snapshot restore, a new
// leader with older data) it is reset, and any index below 1 is replaced
// by 1: an index of 0 does not block and would turn the loop into a busy
// loop, while index 1 returns at once with the new index. Queries are paced
// by a token bucket (RateInterval).
//
// Failures: a server that fails (connection, Wait+Wait/16+Timeout, a status
// other than 200, a bad body) is skipped for the next one; when every
// server fails, the error is recorded with Updater.Fail, the last good
// instances keep serving, and the source retries after a backoff. An empty
// answer is believed at once: the Consul catalog is Raft state, and by
// default the leader answers, so an empty list is a committed one (no
// instance registered, or none healthy).
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
	if cfg.Name != strings.TrimSpace(cfg.Name) || strings.ContainsAny(cfg.Name, "/?#") || hasControl(cfg.Name) {
		return nil, fmt.Errorf("%w: Name %q has spaces, control characters or one of / ? #", ErrConfig, cfg.Name)
	}
	if hasControl(cfg.Datacenter) || strings.ContainsAny(cfg.Datacenter, " /?#") {
		return nil, fmt.Errorf("%w: Datacenter %q", ErrConfig, cfg.Datacenter)
	}
	cfg.Tags = slices.Clone(cfg.Tags)
	for _, t := range cfg.Tags {
		if t == "" {
			return nil, fmt.Errorf("%w: Tags has an empty tag", ErrConfig)
		}
	}
	if hasControl(cfg.Token) {
		return nil, fmt.Errorf("%w: Token has control characters", ErrConfig)
	}
	if len(cfg.Servers) == 0 {
		cfg.Servers = []string{"127.0.0.1:8500"}
	}
	s := &Source{}
	for _, raw := range cfg.Servers {
		u, err := parseServer(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: Servers: %w", ErrConfig, err)
		}
		s.servers = append(s.servers, u)
	}
	cfg.Wait = cmp.Or(cfg.Wait, 60*time.Second)
	if cfg.Wait < time.Second || cfg.Wait > 10*time.Minute {
		return nil, fmt.Errorf("%w: Wait %v is outside 1s..10m", ErrConfig, cfg.Wait)
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	cfg.RateInterval = cmp.Or(cfg.RateInterval, 5*time.Second)
	cfg.RetryMin = cmp.Or(cfg.RetryMin, time.Second)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, 30*time.Second)
	if cfg.Timeout < 0 || cfg.RateInterval < 0 || cfg.RetryMin < 0 || cfg.RetryMax < cfg.RetryMin {
		return nil, fmt.Errorf("%w: want Timeout, RateInterval and RetryMin positive and RetryMax (%v) >= RetryMin (%v)", ErrConfig, cfg.RetryMax, cfg.RetryMin)
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
	s.name = cfg.SourceName
	if s.name == "" {
		s.name = "consul:" + cfg.Name
		if cfg.Datacenter != "" {
			s.name += "@" + cfg.Datacenter
		}
	}
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
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

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
	if u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("%q: want [http[s]://]host[:port]", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "8500")
	}
	u.Path, u.RawPath = "", ""
	return u, nil
}

// ServerURL turns a server as the config file gives it ("host:port",
// "host" or a URL) into its base URL: a missing scheme is http, a
// missing port 8500. The registrars of package registry/consul use it, so
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

// Watch implements [discovery.Source]: it reads the service's health,
// reports its instances, and follows changes with blocking queries until
// ctx is done.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	defer s.client.CloseIdleConnections()
	var (
		preferred = rand.IntN(len(s.servers))
		index     uint64 // 0: the next query does not block
		bucket    = tokenBucket{burst: 2, every: s.cfg.RateInterval}
		backoff   = s.cfg.RetryMin
	)
	bucket.fill(s.cfg.Now())
	for {
		if d := bucket.take(s.cfg.Now()); d > 0 {
			if !s.sleep(ctx, d) {
				return ctx.Err()
			}
			bucket.take(s.cfg.Now())
		}
		ans, idx, err := s.query(ctx, &preferred, index)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			u.Fail(err)
			// Read afresh after a failure: the server that answers next
			// may be another one, whose index means nothing to us.
			index = 0
			if !s.sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(2*backoff, s.cfg.RetryMax)
			continue
		}
		backoff = s.cfg.RetryMin
		index = nextIndex(index, idx)
		l := s.convert(ans)
		// A refusal (it should not happen: instances are checked) is
		// recorded by the aggregator.
		_ = u.Update(map[string][]discovery.Instance{s.cfg.Service: l.instances})
		if len(l.bad) > 0 {
			u.Fail(errors.Join(l.bad...))
		}
	}
}

// nextIndex applies Consul's two blocking-query rules, in order, to the
// index of an answer: reset it to 0 when it went backwards, then make it at
// least 1. Index 0 does not block and would make the loop busy; index 1 is
// always safe, and after a reset it returns at once with the new index
// (which is above 1) unless the data does not exist yet, when it waits for
// it.
func nextIndex(prev, got uint64) uint64 {
	if got < prev {
		got = 0
	}
	return max(got, 1)
}

func (s *Source) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-s.cfg.After(d):
		return true
	}
}

// query asks the servers, starting with the one that answered last, and
// returns the first answer and its X-Consul-Index.
func (s *Source) query(ctx context.Context, preferred *int, index uint64) ([]entry, uint64, error) {
	n := len(s.servers)
	var errs []error
	for i := range n {
		idx := (*preferred + i) % n
		ans, ci, err := s.queryOne(ctx, idx, index)
		if err == nil {
			*preferred = idx
			return ans, ci, nil
		}
		errs = append(errs, fmt.Errorf("server %s: %w", s.servers[idx].Host, err))
		if ctx.Err() != nil {
			break
		}
		// Another server's index is unrelated: read without blocking.
		index = 0
	}
	return nil, 0, fmt.Errorf("health of %s: %w", s.cfg.Name, errors.Join(errs...))
}

// maxBody bounds what the source reads of one answer.
const maxBody = 16 << 20

func (s *Source) queryOne(ctx context.Context, idx int, index uint64) ([]entry, uint64, error) {
	q := url.Values{}
	if s.cfg.Datacenter != "" {
		q.Set("dc", s.cfg.Datacenter)
	}
	if s.cfg.Stale {
		q.Set("stale", "")
	}
	limit := s.cfg.Timeout
	if index > 0 {
		q.Set("index", strconv.FormatUint(index, 10))
		q.Set("wait", strconv.FormatInt(s.cfg.Wait.Milliseconds(), 10)+"ms")
		// Consul may hold the query for Wait plus up to Wait/16.
		limit += s.cfg.Wait + s.cfg.Wait/16
	}
	u := *s.servers[idx]
	u.Path = "/v1/health/service/" + url.PathEscape(s.cfg.Name)
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if s.cfg.Token != "" {
		req.Header.Set("X-Consul-Token", s.cfg.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, err
	}
	switch {
	case len(b) > maxBody:
		return nil, 0, fmt.Errorf("%w: answer larger than %d bytes", ErrBadAnswer, maxBody)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, 0, fmt.Errorf("%w: answered %d: %s", ErrAuth, resp.StatusCode, snippet(b))
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("%w: answered %d: %s", ErrBadAnswer, resp.StatusCode, snippet(b))
	}
	ci, err := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: X-Consul-Index %q", ErrBadAnswer, resp.Header.Get("X-Consul-Index"))
	}
	ans, err := decodeHealth(b)
	if err != nil {
		return nil, 0, err
	}
	return ans, ci, nil
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func hasControl(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// probeAddr is a valid address for validating fields alone.
var probeAddr = netip.MustParseAddrPort("192.0.2.1:1")

// tokenBucket is the rate limit of the query loop. It is used by one
// goroutine.
type tokenBucket struct {
	burst  float64
	every  time.Duration
	tokens float64
	last   time.Time
}

func (b *tokenBucket) fill(now time.Time) { b.tokens, b.last = b.burst, now }

// take takes a token and returns 0, or returns how long until one is
// there (and takes nothing).
func (b *tokenBucket) take(now time.Time) time.Duration {
	if b.every <= 0 {
		return 0
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+float64(el)/float64(b.every))
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(b.every))
}
