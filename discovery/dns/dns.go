package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/duohuo/duohuo/discovery"
)

// Type says which records a [Source] asks for.
type Type uint8

// The record types a Source can follow.
const (
	// Auto is SRV when the name starts with "_" (as in
	// "_http._tcp.api.example.com"), A and AAAA otherwise.
	Auto     Type = iota
	SRV           // SRV records, then the targets' addresses
	A             // IPv4 addresses, with Config.Port
	AAAA          // IPv6 addresses, with Config.Port
	AAndAAAA      // both, with Config.Port
)

// String returns the type's name, as in "SRV".
func (t Type) String() string {
	switch t {
	case SRV:
		return "SRV"
	case A:
		return "A"
	case AAAA:
		return "AAAA"
	case AAndAAAA:
		return "A+AAAA"
	default:
		return "auto"
	}
}

// Errors that callers branch on.
var (
	// ErrConfig means a Config is unusable; NewSource says which field.
	ErrConfig = errors.New("dns: bad config")
	// ErrServerFailure is a SERVFAIL answer: the resolver could not
	// answer (e.g. the authoritative servers are unreachable). The source
	// keeps its last good answer.
	ErrServerFailure = errors.New("dns: server failure")
	// ErrRcode is any other error answer (REFUSED, FORMERR, …).
	ErrRcode = errors.New("dns: error answer")
)

// Config configures a [Source]. Service, Name and (for address records)
// Port are required; every other zero field takes the default written on
// it.
type Config struct {
	// Service is the duohuo service the instances belong to.
	Service string
	// Name is the DNS name to follow: "_http._tcp.api.ns.svc.cluster.local"
	// for SRV (Kubernetes headless services, AWS Cloud Map), or a host
	// name for address records (Alibaba Cloud PrivateZone). A final dot
	// is optional; names are always absolute (no search list).
	Name string
	// Type is which records to ask for. Auto (the zero value) picks SRV
	// for names starting with "_", A and AAAA otherwise.
	Type Type
	// Port is the instances' port for A/AAAA; SRV records carry their own.
	Port uint16
	// Weight is the weight of instances from address records. If zero,
	// discovery.DefaultWeight. (SRV records carry their own; see
	// [Source].)
	Weight uint32
	// Locality and Labels are stamped on every instance, since DNS does not
	// say where an address runs.
	Locality discovery.Locality
	Labels   map[string]string
	// SourceName is the source's name. If empty, "dns:" followed by Name
	// and, for address records, ":" and Port.
	SourceName string

	// Servers are the resolvers to ask ("10.0.0.2:53", "[::1]:53"), in
	// order: the next is tried when one fails. If empty, the nameservers
	// of ResolvConf.
	Servers []string
	// ResolvConf is read when Servers is empty. If empty,
	// "/etc/resolv.conf".
	ResolvConf string
	// Timeout bounds one query to one server. If zero, 2s.
	Timeout time.Duration

	// MinTTL is the floor on the refresh interval: records with a shorter
	// TTL (Kubernetes uses 5–30s, some registries 0) are asked for no more
	// often than this. If zero, 5s.
	MinTTL time.Duration
	// MaxTTL is the ceiling: records with a longer TTL are still asked for
	// this often, so a change shows within MaxTTL whatever the TTL says.
	// If zero, 5m.
	MaxTTL time.Duration
	// MaxStale bounds stale-if-error: while every resolver fails (timeout,
	// SERVFAIL, REFUSED), the last good answer keeps serving for at most
	// this long after it was obtained; then the source withdraws the
	// service. If zero, 1h (as CoreDNS's serve_stale default).
	MaxStale time.Duration

	// Now and After are the clock; tests inject one to control refreshes.
	// If nil, time.Now and time.After. After's channel must deliver once.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Source follows a DNS name and reports its addresses as the instances of
// one service. It is safe for concurrent use; each Watch runs its own
// refresh loop.
//
// Refresh: after an answer the source asks again when the smallest TTL in
// it (SRV, CNAME and address records alike, and the negative TTL of an
// empty A or AAAA half) expires, clamped between
// MinTTL and MaxTTL. A negative answer is cached for the SOA's negative
// TTL (RFC 2308), clamped the same way. After an error it asks again after
// MinTTL.
//
// Answers: NXDOMAIN (the name does not exist) and NODATA (it has no records
// of the type) are answers: the service is reported with no instances.
// SERVFAIL, REFUSED, other error codes and timeouts are errors: they are
// recorded with Updater.Fail and the last good answer keeps serving, for
// at most MaxStale. An answer truncated over UDP is asked again over TCP.
//
// SRV: each record's target is resolved to its addresses (from the
// answer's additional section when present, else with A and AAAA queries),
// and each address becomes an instance at the record's port. The SRV weight
// (0–65535) is the instance's weight, as is; when every record has weight 0
// (RFC 2782: "no server selection") each gets discovery.DefaultWeight, and
// otherwise a weight-0 record gets weight 1, keeping RFC 2782's "very small
// chance" rather than draining it. A target with several addresses gives
// each the record's full weight; each instance names its target in
// Metadata["srv_target"]. SRV priority is ignored: duohuo's
// failover order comes from locality tiers, and registries that feed
// duohuo (Kubernetes, Cloud Map) publish one priority. A target of "."
// (RFC 2782: service not available here) yields no instance, and so do
// records with port 0 and addresses that cannot be an instance's
// (0.0.0.0, multicast).
type Source struct {
	cfg     Config
	name    string
	typ     Type
	servers []string
}

var _ discovery.Source = (*Source)(nil)

// NewSource checks cfg and returns a Source. The error wraps [ErrConfig]
// and names the field.
func NewSource(cfg Config) (*Source, error) {
	if err := discovery.CheckService(cfg.Service); err != nil {
		return nil, fmt.Errorf("%w: Service: %w", ErrConfig, err)
	}
	if _, ok := mdns.IsDomainName(cfg.Name); !ok || strings.Trim(cfg.Name, ".") == "" {
		return nil, fmt.Errorf("%w: Name %q is not a domain name", ErrConfig, cfg.Name)
	}
	cfg.Name = mdns.Fqdn(cfg.Name)
	s := &Source{cfg: cfg, typ: cfg.Type}
	if s.typ == Auto {
		s.typ = AAndAAAA
		if strings.HasPrefix(cfg.Name, "_") {
			s.typ = SRV
		}
	}
	if s.typ > AAndAAAA {
		return nil, fmt.Errorf("%w: Type %d is unknown", ErrConfig, cfg.Type)
	}
	if s.typ != SRV && cfg.Port == 0 {
		return nil, fmt.Errorf("%w: Port is required for %s records of %s", ErrConfig, s.typ, cfg.Name)
	}
	if cfg.Weight > discovery.MaxWeight {
		return nil, fmt.Errorf("%w: Weight %d is above %d", ErrConfig, cfg.Weight, discovery.MaxWeight)
	}
	s.cfg.Weight = cmp.Or(cfg.Weight, discovery.DefaultWeight)
	probe := discovery.Instance{Addr: netip.MustParseAddrPort("192.0.2.1:1"), Locality: cfg.Locality, Labels: cfg.Labels}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("%w: Locality or Labels: %w", ErrConfig, err)
	}
	s.cfg.Labels = maps.Clone(cfg.Labels)
	s.cfg.Timeout = cmp.Or(cfg.Timeout, 2*time.Second)
	s.cfg.MinTTL = cmp.Or(cfg.MinTTL, 5*time.Second)
	s.cfg.MaxTTL = cmp.Or(cfg.MaxTTL, 5*time.Minute)
	s.cfg.MaxStale = cmp.Or(cfg.MaxStale, time.Hour)
	if s.cfg.MinTTL < 0 || s.cfg.MaxTTL < s.cfg.MinTTL || s.cfg.MaxStale < 0 || s.cfg.Timeout < 0 {
		return nil, fmt.Errorf("%w: want 0 < MinTTL (%v) <= MaxTTL (%v), MaxStale and Timeout positive", ErrConfig, s.cfg.MinTTL, s.cfg.MaxTTL)
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.After == nil {
		s.cfg.After = time.After
	}

	s.servers = slices.Clone(cfg.Servers)
	if len(s.servers) == 0 {
		path := cmp.Or(cfg.ResolvConf, "/etc/resolv.conf")
		cc, err := mdns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: no Servers and %s unreadable: %w", ErrConfig, path, err)
		}
		for _, h := range cc.Servers {
			s.servers = append(s.servers, net.JoinHostPort(h, cc.Port))
		}
		if len(s.servers) == 0 {
			return nil, fmt.Errorf("%w: no Servers and no nameserver in %s", ErrConfig, path)
		}
	}
	for _, srv := range s.servers {
		if _, _, err := net.SplitHostPort(srv); err != nil {
			return nil, fmt.Errorf("%w: server %q: %w", ErrConfig, srv, err)
		}
	}

	s.name = cfg.SourceName
	if s.name == "" {
		s.name = "dns:" + strings.TrimSuffix(cfg.Name, ".")
		if s.typ != SRV {
			s.name += fmt.Sprintf(":%d", cfg.Port)
		}
	}
	return s, nil
}

// Name implements [discovery.Source].
func (s *Source) Name() string { return s.name }

// Servers returns the resolvers the source asks, in order.
func (s *Source) Servers() []string { return slices.Clone(s.servers) }

// Watch implements [discovery.Source]: it resolves the name, reports the
// instances, and asks again as the TTL says, until ctx is done.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	var (
		have     bool      // a good answer is being served
		lastGood time.Time // when it was obtained
	)
	for {
		list, ttl, err := s.resolve(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := s.cfg.MinTTL
		if err == nil {
			have, lastGood = true, s.cfg.Now()
			wait = min(max(ttl, s.cfg.MinTTL), s.cfg.MaxTTL)
			// A refusal (it should not happen: addresses are checked) is
			// recorded by the aggregator.
			_ = u.Update(map[string][]discovery.Instance{s.cfg.Service: list})
		} else {
			u.Fail(fmt.Errorf("resolve %s %s: %w", s.typ, s.cfg.Name, err))
			if have && s.cfg.Now().Sub(lastGood) >= s.cfg.MaxStale {
				// Stale for too long: withdraw rather than route to
				// addresses nobody vouches for any more.
				have = false
				_ = u.Update(map[string][]discovery.Instance{})
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.cfg.After(wait):
		}
	}
}

// resolve asks for the records and returns the instances and the smallest
// TTL of the answer.
func (s *Source) resolve(ctx context.Context) ([]discovery.Instance, time.Duration, error) {
	if s.typ == SRV {
		return s.resolveSRV(ctx)
	}
	addrs, ttl, err := s.addrs(ctx, s.cfg.Name, s.typ)
	if err != nil {
		return nil, 0, err
	}
	out := make([]discovery.Instance, 0, len(addrs))
	seen := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if !seen[a] {
			seen[a] = true
			out = append(out, s.instance(netip.AddrPortFrom(a, s.cfg.Port), s.cfg.Weight))
		}
	}
	return out, ttl, nil
}

func (s *Source) resolveSRV(ctx context.Context) ([]discovery.Instance, time.Duration, error) {
	resp, ttl, err := s.query(ctx, s.cfg.Name, mdns.TypeSRV)
	if err != nil {
		return nil, 0, err
	}
	var recs []*mdns.SRV
	allZero := true
	for _, rr := range resp.Answer {
		if r, ok := rr.(*mdns.SRV); ok && r.Target != "." && r.Port != 0 {
			recs = append(recs, r)
			allZero = allZero && r.Weight == 0
		}
	}
	// Addresses given in the additional section save a round trip per
	// target (CoreDNS for Kubernetes, Cloud Map do this).
	extra := map[string][]netip.Addr{}
	for _, rr := range resp.Extra {
		if a, ok := rrAddr(rr); ok && usable(a) {
			name := strings.ToLower(rr.Header().Name)
			extra[name] = append(extra[name], a)
			ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
		}
	}
	byAddr := map[netip.AddrPort]int{} // → index in out
	var out []discovery.Instance
	for _, r := range recs {
		w := uint32(r.Weight)
		switch {
		case allZero:
			w = discovery.DefaultWeight
		case w == 0:
			w = 1
		}
		addrs, ok := extra[strings.ToLower(r.Target)]
		if !ok {
			var attl time.Duration
			addrs, attl, err = s.addrs(ctx, r.Target, AAndAAAA)
			if err != nil {
				return nil, 0, fmt.Errorf("target %s: %w", r.Target, err)
			}
			ttl = min(ttl, attl)
		}
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a, r.Port)
			if i, dup := byAddr[ap]; dup {
				// Two records for one address: keep the larger weight.
				out[i].Weight = max(out[i].Weight, w)
				continue
			}
			byAddr[ap] = len(out)
			in := s.instance(ap, w)
			// For people reading the admin API: which record gave it.
			in.Metadata = map[string]string{"srv_target": strings.TrimSuffix(r.Target, ".")}
			out = append(out, in)
		}
	}
	if out == nil {
		out = []discovery.Instance{}
	}
	return out, ttl, nil
}

// addrs returns the addresses of name for t (A, AAAA or AAndAAAA) and the
// smallest TTL of the answers.
func (s *Source) addrs(ctx context.Context, name string, t Type) ([]netip.Addr, time.Duration, error) {
	var qtypes []uint16
	if t == A || t == AAndAAAA {
		qtypes = append(qtypes, mdns.TypeA)
	}
	if t == AAAA || t == AAndAAAA {
		qtypes = append(qtypes, mdns.TypeAAAA)
	}
	var out []netip.Addr
	ttl := time.Duration(1<<63 - 1)
	for _, qt := range qtypes {
		resp, qttl, err := s.query(ctx, name, qt)
		if err != nil {
			return nil, 0, err
		}
		ttl = min(ttl, qttl)
		for _, rr := range resp.Answer {
			// A recursive resolver has followed CNAMEs: every address in
			// the answer belongs to name.
			if a, ok := rrAddr(rr); ok && usable(a) {
				out = append(out, a)
			}
		}
	}
	return out, ttl, nil
}

// usable drops addresses no instance can have (0.0.0.0, multicast), so one
// bad record does not get the whole answer refused.
func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() }

func rrAddr(rr mdns.RR) (netip.Addr, bool) {
	switch r := rr.(type) {
	case *mdns.A:
		a, ok := netip.AddrFromSlice(r.A.To4())
		return a, ok
	case *mdns.AAAA:
		a, ok := netip.AddrFromSlice(r.AAAA.To16())
		return a.Unmap(), ok
	}
	return netip.Addr{}, false
}

// query asks each server in turn until one answers, retrying over TCP when
// the UDP answer is truncated. NXDOMAIN and NODATA are answers with no
// records; their TTL is the negative-caching TTL of RFC 2308 (the SOA's
// minimum, capped by the SOA record's own TTL), or MinTTL without an SOA.
func (s *Source) query(ctx context.Context, name string, qtype uint16) (*mdns.Msg, time.Duration, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	// 1232 bytes: the EDNS buffer size of DNS Flag Day 2020, safe from IP
	// fragmentation; larger answers come back truncated and go over TCP.
	m.SetEdns0(1232, false)

	var errs []error
	for _, srv := range s.servers {
		resp, err := s.exchange(ctx, m, srv, "udp")
		if err == nil && resp.Truncated {
			resp, err = s.exchange(ctx, m, srv, "tcp")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("server %s: %w", srv, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch resp.Rcode {
		case mdns.RcodeSuccess, mdns.RcodeNameError:
			if resp.Rcode == mdns.RcodeNameError {
				resp.Answer = nil // NXDOMAIN: a CNAME chain that ends nowhere
			}
			return resp, s.answerTTL(resp), nil
		case mdns.RcodeServerFailure:
			errs = append(errs, fmt.Errorf("server %s: %w", srv, ErrServerFailure))
		default:
			errs = append(errs, fmt.Errorf("server %s: %w %s", srv, ErrRcode, mdns.RcodeToString[resp.Rcode]))
		}
	}
	return nil, 0, errors.Join(errs...)
}

func (s *Source) exchange(ctx context.Context, m *mdns.Msg, server, network string) (*mdns.Msg, error) {
	c := &mdns.Client{Net: network, Timeout: s.cfg.Timeout, UDPSize: 1232}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp, _, err := c.ExchangeContext(ctx, m, server)
	return resp, err
}

// answerTTL is the smallest TTL among the answer records, or the negative
// TTL when there are none.
func (s *Source) answerTTL(resp *mdns.Msg) time.Duration {
	if len(resp.Answer) > 0 {
		ttl := resp.Answer[0].Header().Ttl
		for _, rr := range resp.Answer[1:] {
			ttl = min(ttl, rr.Header().Ttl)
		}
		return time.Duration(ttl) * time.Second
	}
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*mdns.SOA); ok {
			return time.Duration(min(soa.Minttl, soa.Hdr.Ttl)) * time.Second
		}
	}
	return s.cfg.MinTTL
}

func (s *Source) instance(ap netip.AddrPort, w uint32) discovery.Instance {
	return discovery.Instance{
		Addr:     ap,
		Weight:   w,
		Locality: s.cfg.Locality,
		Labels:   s.cfg.Labels, // the aggregator copies it
	}
}
