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
