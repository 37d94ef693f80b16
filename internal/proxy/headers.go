package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders are the hop-by-hop headers, removed before forwarding in either
// direction (RFC 9110, section 7.6.1; Keep-Alive and Proxy-Connection are
// not standard but widely sent).
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

func isHopHeader(k string) bool {
	for _, h := range hopHeaders {
		if k == h {
			return true
		}
	}
	return false
}

// copyEndToEnd copies the end-to-end headers of src into dst: everything but
// the hop-by-hop headers and those that src's Connection header names. The
// value slices are shared, not copied: neither side changes them in place.
func copyEndToEnd(dst, src http.Header) {
	var named []string
	for _, v := range src["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				named = append(named, textproto.CanonicalMIMEHeaderKey(f))
			}
		}
	}
outer:
	for k, vv := range src {
		if isHopHeader(k) {
			continue
		}
		for _, n := range named {
			if k == n {
				continue outer
			}
		}
		dst[k] = vv
	}
}

// upgradeType returns the protocol a request or response asks to switch to
// ("websocket"), or "" when its Connection header does not say "upgrade".
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(textproto.TrimString(f), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// hasToken reports whether a comma-separated header (Connection, TE) lists
// token, ignoring case and any parameters after ';'.
func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		for _, f := range strings.Split(v, ",") {
			f, _, _ = strings.Cut(f, ";")
			if strings.EqualFold(textproto.TrimString(f), token) {
				return true
			}
		}
	}
	return false
}

// notTrailers are the fields a trailer section must not carry, dropped
// from trailers in either direction besides the hop-by-hop ones: those
// that frame, route, authenticate or control the message, or that say how
// to process its content, which a recipient reads from the head alone (RFC
// 9110, section 6.5.1), and the forwarding fields this hop writes in the
// head, which a trailer would contradict.
var notTrailers = map[string]bool{
	"Content-Length": true, "Content-Encoding": true, "Content-Type": true, "Content-Range": true,
	"Host": true, "Authorization": true, "Cookie": true, "Set-Cookie": true, "Www-Authenticate": true,
	"Cache-Control": true, "Expect": true, "Max-Forwards": true, "Pragma": true, "Range": true,
	"Age": true, "Expires": true, "Date": true, "Location": true, "Retry-After": true, "Vary": true, "Warning": true,
	"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true,
	"X-Real-Ip": true, "Via": true, HeaderRequestID: true,
}

// trailerAllowed reports whether a trailer field named k (canonical) may be
// forwarded.
func trailerAllowed(k string) bool { return !notTrailers[k] && !isHopHeader(k) }

// declaredTrailers returns a trailer map for an outbound request with the
// allowed names of in, each without a value yet: the transport declares
// them in the head (the Trailer field) and sends them after the body.
func declaredTrailers(in http.Header) http.Header {
	out := make(http.Header, len(in))
	for k := range in {
		if trailerAllowed(k) {
			out[k] = nil
		}
	}
	return out
}

// copyTrailers copies the allowed trailer fields of src into dst, as
// received: dst's names are set to src's values, and the undeclared
// allowed fields src received are added.
func copyTrailers(dst, src http.Header) {
	for k, vv := range src {
		if trailerAllowed(k) {
			dst[k] = vv
		}
	}
	for k, vv := range dst {
		if vv == nil {
			delete(dst, k) // declared, never sent
		}
	}
}
