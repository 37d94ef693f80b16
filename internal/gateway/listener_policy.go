package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/duohuo/duohuo/internal/config"
)

// listener is what one listener decides about the requests it accepts:
// whom it believes about forwarding headers, and how much its error
// answers say. The zero listener trusts no one and gives reason codes
// only: what a request gets when it reaches the gateway's handler without
// a listener of its own (Gateway.ServeHTTP mounted elsewhere).
type listener struct {
	trusted    []netip.Prefix // peers whose forwarding headers are kept
	fullErrors bool           // X-Duohuo-Error with details (error_detail: full)
}

// listenerOf maps a listener of the file.
func listenerOf(lc config.Listener) (*listener, error) {
	l := &listener{fullErrors: lc.ErrorDetail == "full"}
	for i, n := range lc.TrustedProxies {
		p, err := config.ParsePrefix(n)
		if err != nil {
			return nil, fmt.Errorf("listener %q: trusted_proxies[%d]: %w", lc.Name, i, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		l.trusted = append(l.trusted, p.Masked())
	}
	return l, nil
}

type listenerKey struct{}

// noListener is the listener of requests that came without one.
var noListener = &listener{}

// listenerFrom returns the listener that accepted the request of ctx.
func listenerFrom(ctx context.Context) *listener {
	if l, ok := ctx.Value(listenerKey{}).(*listener); ok {
		return l
	}
	return noListener
}

// baseContext is the http.Server.BaseContext of the listener: every
// request it accepts carries l, at no cost per request.
func (l *listener) baseContext(net.Listener) context.Context {
	return context.WithValue(context.Background(), listenerKey{}, l)
}

// trusts reports whether peer (host:port) is one of the listener's
// trusted proxies.
func (l *listener) trusts(remoteAddr string) bool {
	if len(l.trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// The forwarding headers a client may send about itself, believed only
// from a trusted proxy (docs/security.md, "What the gateway trusts").
const (
	headerForwarded = "Forwarded"
	headerRealIP    = "X-Real-Ip"
)

var forwardingHeaders = [...]string{
	"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
	headerForwarded, headerRealIP, "X-Request-Id",
}

// prepareHeaders readies the client's headers for forwarding, once per
// request, before the forwarder reads them:
//
//   - From a peer that is not a trusted proxy, the forwarding headers it
//     sent about itself are dropped: the forwarder then writes
//     X-Forwarded-For, -Proto and -Host and a new X-Request-Id from what
//     the gateway sees, instead of appending to the client's. From a
//     trusted proxy they are kept, and a Forwarded header gets this hop's
//     element appended, as X-Forwarded-For gets its address.
//   - X-Real-IP is the peer's address unless a trusted proxy set it.
//   - Several Baggage fields become one (RFC 9110, section 5.3), so that
//     the color and gray rules, which read one value, see every member.
func (l *listener) prepareHeaders(r *http.Request) {
	h := r.Header
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = ""
	}
	if !l.trusts(r.RemoteAddr) {
		for _, k := range forwardingHeaders {
			delete(h, k)
		}
	} else if fw := h[headerForwarded]; len(fw) > 0 {
		h[headerForwarded] = []string{joinComma(fw) + ", " + forwardedElement(ip, r)}
	}
	if _, ok := h[headerRealIP]; !ok && ip != "" {
		h[headerRealIP] = []string{ip}
	}
	if b := h["Baggage"]; len(b) > 1 {
		h["Baggage"] = []string{strings.Join(b, ",")}
	}
}

// forwardedElement is this hop's element of a Forwarded header (RFC 7239,
// section 4).
func forwardedElement(ip string, r *http.Request) string {
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if strings.IndexByte(ip, ':') >= 0 {
		ip = `"[` + ip + `]"` // an IPv6 address is quoted and bracketed (section 6)
	}
	el := "for=" + ip + ";proto=" + proto
	if r.Host != "" && !strings.ContainsAny(r.Host, "\"\\") {
		el += `;host="` + r.Host + `"`
	}
	return el
}

func joinComma(vv []string) string {
	if len(vv) == 1 {
		return vv[0]
	}
	return strings.Join(vv, ", ")
}
