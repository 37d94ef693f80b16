package color

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Default names, used where a [Config] field is empty.
const (
	DefaultHeader      = "X-Gray-Id"
	DefaultBaggageKey  = "gray.lane"
	DefaultTokenHeader = "X-Gray-Token"
	// ServedHeader is the response header in which the gateway says which
	// lane (subset) served a request, so that a tester sees a fallback.
	ServedHeader = "X-Gray-Served-By"
)

// MinKeyLen is the shortest HMAC key accepted: 128 bits.
const MinKeyLen = 16

// Config says where the color travels and whom to believe. The zero value
// is valid: default names, and no source trusted, so every incoming color
// is stripped (the right default at the edge).
type Config struct {
	// Header carries the lane name; "" means [DefaultHeader].
	Header string
	// BaggageKey is the W3C baggage member that carries the lane too;
	// "" means [DefaultBaggageKey].
	BaggageKey string
	// TokenHeader carries a signed color ([Propagator.Sign]); "" means
	// [DefaultTokenHeader].
	TokenHeader string
	// TrustedNets are the peers whose color is believed as sent: the
	// internal networks where other gateways and sidecars live. A peer
	// outside them must present a valid token.
	TrustedNets []netip.Prefix
	// Keys verify tokens (any of them may have signed one, so keys rotate
	// by adding the new key, then removing the old one later); Keys[0]
	// signs. Each is at least [MinKeyLen] bytes. None means tokens are
	// neither accepted nor made.
	Keys [][]byte
	// SignTTL, if positive, makes [Propagator.Transport] attach a token
	// valid this long to every colored outgoing request, for calls that
	// leave the trusted networks (to another cloud over the internet).
	SignTTL time.Duration
	// Now is the clock for token expiry; nil means time.Now.
	Now func() time.Time
}

// Propagator applies a [Config]: it decides whether an incoming color is
// trusted, and writes the color onto requests. It is immutable and safe
// for concurrent use.
type Propagator struct {
	header, baggageKey, tokenHeader string
	nets                            []netip.Prefix
	keys                            [][]byte
	signTTL                         time.Duration
	now                             func() time.Time
}

// ErrConfig is wrapped by every error of [New].
var ErrConfig = errors.New("color: invalid config")

// New checks cfg and returns its Propagator.
func New(cfg Config) (*Propagator, error) {
	p := &Propagator{
		header:      http.CanonicalHeaderKey(orDefault(cfg.Header, DefaultHeader)),
		baggageKey:  orDefault(cfg.BaggageKey, DefaultBaggageKey),
		tokenHeader: http.CanonicalHeaderKey(orDefault(cfg.TokenHeader, DefaultTokenHeader)),
		signTTL:     cfg.SignTTL,
		now:         cfg.Now,
	}
	if p.now == nil {
		p.now = time.Now
	}
	for _, name := range []struct{ field, v string }{{"Header", p.header}, {"TokenHeader", p.tokenHeader}} {
		if !isToken(name.v) {
			return nil, fmt.Errorf("%w: %s %q is not a header name", ErrConfig, name.field, name.v)
		}
	}
	if !isToken(p.baggageKey) {
		return nil, fmt.Errorf("%w: BaggageKey %q is not a baggage key", ErrConfig, p.baggageKey)
	}
	if p.header == p.tokenHeader {
		return nil, fmt.Errorf("%w: Header and TokenHeader are both %q", ErrConfig, p.header)
	}
	for i, n := range cfg.TrustedNets {
		if !n.IsValid() {
			return nil, fmt.Errorf("%w: TrustedNets[%d] is not a valid prefix", ErrConfig, i)
		}
		if n.Addr().Is4In6() {
			n = netip.PrefixFrom(n.Addr().Unmap(), max(n.Bits()-96, 0))
		}
		p.nets = append(p.nets, n.Masked())
	}
	for i, k := range cfg.Keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("%w: Keys[%d] has %d bytes, fewer than %d", ErrConfig, i, len(k), MinKeyLen)
		}
		p.keys = append(p.keys, append([]byte(nil), k...))
	}
	if cfg.SignTTL > 0 && len(p.keys) == 0 {
		return nil, fmt.Errorf("%w: SignTTL is set but there is no key to sign with", ErrConfig)
	}
	return p, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// ValidLane reports whether s can be a lane name: 1 to 63 letters,
// digits, '-', '_' or '.' (the names gray subsets may have). Anything else
// in a color header is ignored, never routed on.
func ValidLane(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Incoming returns the lane r carries and whether it is trusted. A color
// is trusted when the peer's address is in TrustedNets (the lane is then
// read from the header, else from baggage) or when r carries a valid token
// (the lane is the token's). Otherwise lane is "" and trusted false, even
// if r carries a color: the caller strips it ([Propagator.Strip]). It
// reads r and does not modify it.
func (p *Propagator) Incoming(r *http.Request) (lane string, trusted bool) {
	var peer netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr()
	}
	return p.Trust(peer, func(name string) string {
		if name == "baggage" {
			return strings.Join(r.Header.Values("Baggage"), ",")
		}
		return r.Header.Get(name)
	})
}

// Trust is [Propagator.Incoming] for any carrier (gRPC metadata, a
// message queue's headers): peer is the direct peer's address (the zero
// Addr when unknown) and get returns the value of a key — one of
// [Propagator.Header], [Propagator.TokenHeader] or "baggage" — or "".
func (p *Propagator) Trust(peer netip.Addr, get func(key string) string) (lane string, trusted bool) {
	if tok := get(p.tokenHeader); tok != "" && len(p.keys) > 0 {
		if lane, err := p.Verify(tok); err == nil {
			return lane, true
		}
	}
	if !p.trustedPeer(peer) {
		return "", false
	}
	lane = get(p.header)
	if lane == "" {
		lane, _ = BaggageValue(get("baggage"), p.baggageKey)
	}
	if !ValidLane(lane) {
		return "", false
	}
	return lane, true
}

// Header returns the canonical name of the color header.
func (p *Propagator) Header() string { return p.header }

// TokenHeader returns the canonical name of the token header.
func (p *Propagator) TokenHeader() string { return p.tokenHeader }

// BaggageKey returns the baggage member's key.
func (p *Propagator) BaggageKey() string { return p.baggageKey }

// OutgoingToken returns the token to attach to an outgoing call in lane:
// a fresh one when Config.SignTTL is set, else "".
func (p *Propagator) OutgoingToken(lane string) (string, error) {
	if p.signTTL <= 0 {
		return "", nil
	}
	return p.Sign(lane, p.signTTL)
}

func (p *Propagator) trustedPeer(a netip.Addr) bool {
	if len(p.nets) == 0 || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, n := range p.nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Carries reports whether h carries any color: the header, the token or
// the baggage member, in any of its Baggage fields (a client may send
// several, which a server reads as one list: RFC 9110, section 5.3).
func (p *Propagator) Carries(h http.Header) bool {
	if h.Get(p.header) != "" || h.Get(p.tokenHeader) != "" {
		return true
	}
	for _, v := range h["Baggage"] {
		if _, ok := BaggageValue(v, p.baggageKey); ok {
			return true
		}
	}
	return false
}

// TrustsPeer reports whether a, the address of a direct peer, is in
// Config.TrustedNets: the sources whose color is believed as sent, and
// whom the gateway also believes about fault triggers.
func (p *Propagator) TrustsPeer(a netip.Addr) bool { return p.trustedPeer(a) }

// Strip removes every color from h: the header, the token and the baggage
// member (other baggage members are kept; a malformed baggage header is
// dropped whole, since it cannot be filtered safely).
func (p *Propagator) Strip(h http.Header) {
	h.Del(p.header)
	h.Del(p.tokenHeader)
	vals := h.Values("Baggage")
	if len(vals) == 0 {
		return
	}
	joined := vals[0]
	for _, v := range vals[1:] {
		joined += "," + v
	}
	out, err := RemoveBaggage(joined, p.baggageKey)
	if err != nil || out == "" {
		h.Del("Baggage")
		return
	}
	h.Set("Baggage", out)
}

// Set writes lane onto h in both forms: the header and the baggage member
// (other members kept). An invalid lane, or baggage that would break the
// W3C limits, is an error and h is unchanged.
func (p *Propagator) Set(h http.Header, lane string) error {
	if !ValidLane(lane) {
		return fmt.Errorf("color: lane %q is not a valid lane name", lane)
	}
	vals := h.Values("Baggage")
	joined := ""
	for i, v := range vals {
		if i > 0 {
			joined += ","
		}
		joined += v
	}
	bag, err := SetBaggage(joined, p.baggageKey, lane)
	if err != nil {
		// A malformed incoming baggage is not ours to repair: start afresh
		// rather than lose the color.
		if bag, err = SetBaggage("", p.baggageKey, lane); err != nil {
			return err
		}
	}
	h.Set(p.header, lane)
	h.Set("Baggage", bag)
	return nil
}

type ctxKey struct{}

// WithLane returns a copy of ctx carrying lane: outgoing requests made
// with it through a [Propagator.Transport] are colored.
func WithLane(ctx context.Context, lane string) context.Context {
	return context.WithValue(ctx, ctxKey{}, lane)
}

// FromContext returns the lane ctx carries, if any.
func FromContext(ctx context.Context) (string, bool) {
	lane, ok := ctx.Value(ctxKey{}).(string)
	return lane, ok && lane != ""
}

// Middleware returns a handler that reads the incoming color of each
// request, strips any color it does not trust (so an outside client cannot
// push itself into a gray lane) and puts a trusted lane into the request's
// context for [FromContext] and [Propagator.Transport]. A trusted lane is
// also rewritten onto the request's headers in both forms, so the handler
// sees one consistent color. The request passed on is a shallow copy with
// its own header map; r is not modified.
func (p *Propagator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lane, trusted := p.Incoming(r)
		if !trusted && !p.Carries(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if trusted {
			ctx = WithLane(ctx, lane)
		}
		r2 := r.WithContext(ctx)
		r2.Header = r.Header.Clone()
		p.Strip(r2.Header)
		if trusted {
			_ = p.Set(r2.Header, lane) // lane was validated by Incoming
		}
		next.ServeHTTP(w, r2)
	})
}
