package gray

import "strings"

// baggageMember returns the value of key in a W3C baggage header
// (https://www.w3.org/TR/baggage/), percent-decoded, or "" when absent.
// It scans without allocating (decoding allocates only for a value with
// escapes) and skips members it cannot read rather than failing: routing
// must not depend on the rest of a header written by others. Package color
// validates and writes baggage; this is only the read a rule needs.
func baggageMember(h, key string) string {
	for h != "" {
		var item string
		if i := strings.IndexByte(h, ','); i >= 0 {
			item, h = h[:i], h[i+1:]
		} else {
			item, h = h, ""
		}
		if i := strings.IndexByte(item, ';'); i >= 0 {
			item = item[:i] // properties
		}
		eq := strings.IndexByte(item, '=')
		if eq < 0 || trimOWS(item[:eq]) != key {
			continue
		}
		v := trimOWS(item[eq+1:])
		if strings.IndexByte(v, '%') < 0 {
			return v
		}
		return percentDecode(v)
	}
	return ""
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// percentDecode decodes %XX escapes; a malformed escape makes the whole
// value unreadable ("").
func percentDecode(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return ""
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return ""
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
