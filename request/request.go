// Package request defines [View], the small read-only view of a request that
// duohuo's decision core (routing, gray rules, balancing) works on.
//
// The core never sees an *http.Request: it sees a View, so that any HTTP stack
// (net/http today, a faster HTTP/1.1 path later, a gRPC interceptor) can drive
// it. [FromHTTP] adapts a net/http request.
package request

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// View is what the decision core may read of a request. Implementations must
// be safe to call from the goroutine that handles the request; the core never
// keeps a View after the decision returns.
type View interface {
	Method() string
	// Host is the request's host without port, lower case.
	Host() string
	Path() string
	// Header returns the first value of the named header, or "".
	Header(name string) string
	// Cookie returns the value of the named cookie, or "".
	Cookie(name string) string
	// Query returns the first value of the named query parameter, or "".
	Query(name string) string
	// RemoteAddr is the address of the peer that sent the request (the
	// direct peer, not a forwarded-for value); the zero Addr when unknown.
	RemoteAddr() netip.Addr
}

// FromHTTP returns a View of r. The View reads r lazily and does not copy it.
func FromHTTP(r *http.Request) View { return HTTP{r} }

// HTTP is the View of a net/http request, as a value: embedded in a
// larger per-request struct it costs no allocation of its own, where the
// View that FromHTTP returns costs one.
type HTTP struct{ r *http.Request }

// NewHTTP returns the View of r as a value.
func NewHTTP(r *http.Request) HTTP { return HTTP{r} }

type httpView = HTTP

func (v httpView) Method() string { return v.r.Method }
func (v httpView) Path() string   { return v.r.URL.Path }
func (v httpView) Host() string {
	h := v.r.Host
	// Only an IPv6 literal needs parsing ("[::1]:80"); the error path of
	// netip.ParseAddrPort allocates, so names and IPv4 never reach it.
	if len(h) > 0 && h[0] == '[' {
		if ap, err := netip.ParseAddrPort(h); err == nil {
			return ap.Addr().String()
		}
		if end := strings.IndexByte(h, ']'); end > 0 {
			return lower(h[1:end])
		}
	}
	// Strip a port from "name:port"; a bare IPv6 literal has no port here.
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			h = h[:i]
			break
		}
		if h[i] < '0' || h[i] > '9' {
			break
		}
	}
	return lower(h)
}
func (v httpView) Header(name string) string { return v.r.Header.Get(name) }
func (v httpView) Cookie(name string) string {
	c, err := v.r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}
func (v httpView) Query(name string) string { return queryValue(v.r.URL.RawQuery, name) }

// queryValue returns what url.ParseQuery(raw).Get(name) returns, without
// building the map of every parameter: rules look up one or two names per
// request, and the map costs allocations per call. Written by hand because
// net/url has no single-name lookup; FuzzQueryValue checks it against
// url.ParseQuery.
func queryValue(raw, name string) string {
	if strings.Count(raw, "&") >= 1000 {
		// Past a limit (10,000 parameters in Go 1.26, GODEBUG
		// urlmaxqueryparams) ParseQuery refuses the whole query: defer to
		// it on long queries rather than mirror its counting.
		v, _ := url.ParseQuery(raw)
		return v.Get(name)
	}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" || strings.Contains(kv, ";") {
			continue // ParseQuery skips empty pairs and refuses semicolons
		}
		k, val, _ := strings.Cut(kv, "=")
		k, err := unescapeQuery(k)
		if err != nil || k != name {
			continue
		}
		if val, err = unescapeQuery(val); err != nil {
			continue
		}
		return val
	}
	return ""
}

// unescapeQuery is url.QueryUnescape, skipped when there is nothing to
// unescape.
func unescapeQuery(s string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	return url.QueryUnescape(s)
}
func (v httpView) RemoteAddr() netip.Addr {
	ap, err := netip.ParseAddrPort(v.r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// lower returns s in ASCII lower case, without allocating when s already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
