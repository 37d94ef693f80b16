package gateway

import (
	"net/url"
	"strings"
)

// Request paths, as routing sees them and as they are forwarded
// (docs/security.md, "Paths"). A route is matched on the path with its
// dot segments removed (RFC 3986, section 5.2.4) and runs of slashes
// merged into one (as nginx's merge_slashes does), and that same path is
// what the instance receives: a backend that resolves "/public/../admin"
// itself can no longer be led outside the prefix a route matched.
//
// A path that spells a slash, a backslash or a dot percent-encoded (%2F,
// %5C, %2E), or holds a literal backslash, is refused with 400 unless the
// route says otherwise (routes[].escaped_path, after Envoy's
// path_with_escaped_slashes_action): backends disagree on whether "%2F"
// separates segments and whether "%2e%2e" climbs one, so no single reading
// is safe for all of them.

// escapedPath is what a route does with a path that carries escaped
// slashes, backslashes or dots.
type escapedPath uint8

const (
	escapedReject   escapedPath = iota // 400
	escapedKeep                        // forwarded as sent, dot segments removed; refused if its escapes hide one
	escapedUnescape                    // forwarded decoded: the path the route matched
)

func parseEscapedPath(s string) escapedPath {
	switch s {
	case "keep":
		return escapedKeep
	case "unescape":
		return escapedUnescape
	}
	return escapedReject
}

// normalizeURL makes u.Path the path routing matches on: decoded, dot
// segments removed, slashes merged, a backslash read as a slash. It
// returns whether the path carried escapes a route must decide on
// (forwardPath); u.RawPath then holds the client's escaped path.
// Otherwise u.RawPath is the forwarded form: the client's escapes (a
// "%3B" stays one) with the same segments removed. A path that is
// already clean is left as it is, without allocating.
func normalizeURL(u *url.URL) (escaped bool) {
	if u.Path == "" || u.Path[0] != '/' {
		return false // "*" (OPTIONS) or an authority (CONNECT): no path
	}
	// Without a RawPath the client wrote the path as Go would escape it,
	// which never spells / or . escaped: only a backslash (written as is,
	// or as %5C) can be there.
	raw := u.Path
	escaped = strings.IndexByte(u.Path, '\\') >= 0
	if u.RawPath != "" {
		raw = u.EscapedPath()
		escaped = pathEscapes(raw)
	}
	if escaped {
		u.RawPath = u.EscapedPath() // a literal backslash comes out as %5C
		u.Path = cleanPath(strings.ReplaceAll(u.Path, `\`, "/"), false)
		return true
	}
	if u.RawPath == "" {
		u.Path = cleanPath(u.Path, false)
		return false
	}
	clean := cleanPath(raw, true)
	if clean != raw {
		u.RawPath = clean
		u.Path, _ = url.PathUnescape(clean) // raw was valid: so is clean
	}
	return false
}

// forwardPath applies mode to a URL normalizeURL found escapes in, and
// reports whether the request may go on (false: answer 400).
func forwardPath(u *url.URL, mode escapedPath) bool {
	switch mode {
	case escapedUnescape:
		u.RawPath = "" // the matched path, encoded where it must be
		return true
	case escapedKeep:
		r := cleanPath(u.RawPath, true)
		d, err := url.PathUnescape(r)
		if err != nil || strings.ReplaceAll(d, `\`, "/") != u.Path {
			// Decoding the escapes makes new dot segments or empty ones
			// ("..%2Fadmin"): a backend that decodes before it resolves
			// would leave the route's prefix.
			return false
		}
		u.Path, u.RawPath = d, r
		return true
	}
	return false
}

// pathEscapes reports whether an escaped path spells a slash, a backslash
// or a dot percent-encoded.
func pathEscapes(raw string) bool {
	for i := strings.IndexByte(raw, '%'); i >= 0 && i+2 < len(raw); {
		switch raw[i+1] {
		case '2':
			if c := raw[i+2] | 0x20; c == 'f' || c == 'e' {
				return true
			}
		case '5':
			if raw[i+2]|0x20 == 'c' {
				return true
			}
		}
		j := strings.IndexByte(raw[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// cleanPath returns p (which starts with '/') with empty segments merged
// and dot segments removed as RFC 3986, section 5.2.4 does: a trailing
// slash, or a final "." or "..", leaves the result ending in '/'. With raw,
// p is escaped and a segment spelled with %2E counts as a dot one. It
// returns p itself when there is nothing to remove.
func cleanPath(p string, raw bool) string {
	if pathIsClean(p, raw) {
		return p
	}
	segs := make([]string, 0, strings.Count(p, "/"))
	rest := p[1:]
	trailing := false // the last segment was empty or a dot one: the result is a directory
	for {
		seg, more, found := strings.Cut(rest, "/")
		switch dotSegment(seg, raw) {
		case 1:
			trailing = true
		case 2:
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = true
		default:
			if seg != "" {
				segs = append(segs, seg)
				trailing = false
			} else {
				trailing = true
			}
		}
		if !found {
			break
		}
		rest = more
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// pathIsClean reports whether cleanPath has nothing to do on p.
func pathIsClean(p string, raw bool) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		end := strings.IndexByte(p[i+1:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += i + 1
		}
		seg := p[i+1 : end]
		if seg == "" && end < len(p) || dotSegment(seg, raw) != 0 {
			return false
		}
		i = end - 1
	}
	return true
}

// dotSegment returns 1 for ".", 2 for "..", 0 for any other segment; with
// raw, "%2e" (either case) counts as a dot.
func dotSegment(seg string, raw bool) int {
	switch seg {
	case ".":
		return 1
	case "..":
		return 2
	}
	if !raw || len(seg) < 3 || len(seg) > 6 {
		return 0
	}
	n := 0
	for i := 0; i < len(seg); n++ {
		switch {
		case seg[i] == '.':
			i++
		case seg[i] == '%' && i+2 < len(seg) && seg[i+1] == '2' && seg[i+2]|0x20 == 'e':
			i += 3
		default:
			return 0
		}
	}
	if n > 2 {
		return 0
	}
	return n
}
