package color

import (
	"errors"
	"fmt"
	"strings"
)

// W3C Baggage limits (https://www.w3.org/TR/baggage/, section 3.3.1, as
// OpenTelemetry applies them): a header may carry at most 64 list-members
// and 8192 bytes.
const (
	MaxBaggageMembers = 64
	MaxBaggageBytes   = 8192
)

// ErrBaggage is wrapped by every baggage error: a malformed header or one
// that would exceed the W3C limits.
var ErrBaggage = errors.New("color: bad baggage")

// member is one list-member of a baggage header, kept as written except
// for surrounding whitespace, so that other members pass through
// untouched.
type member struct {
	key  string
	text string // the whole member: key=value;props
}

// parseBaggage splits a baggage header into its members. It checks what a
// router needs to be safe (keys are tokens, each member has '=', the
// limits hold) and leaves values and properties as they are.
func parseBaggage(h string) ([]member, error) {
	if len(h) > MaxBaggageBytes {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrBaggage, len(h), MaxBaggageBytes)
	}
	var out []member
	for rest := h; rest != ""; {
		var item string
		item, rest, _ = strings.Cut(rest, ",")
		item = strings.Trim(item, " \t")
		if item == "" {
			continue // empty list elements are allowed (RFC 9110, section 5.6.1)
		}
		kv, _, _ := strings.Cut(item, ";")
		k, v, ok := strings.Cut(kv, "=")
		k = strings.Trim(k, " \t")
		if !ok {
			return nil, fmt.Errorf("%w: member %q has no '='", ErrBaggage, item)
		}
		if !isToken(k) {
			return nil, fmt.Errorf("%w: key %q is not a token", ErrBaggage, k)
		}
		if !isBaggageValue(strings.Trim(v, " \t")) {
			return nil, fmt.Errorf("%w: value of %q has a character outside baggage-octet", ErrBaggage, k)
		}
		if len(out) == MaxBaggageMembers {
			return nil, fmt.Errorf("%w: more than %d members", ErrBaggage, MaxBaggageMembers)
		}
		out = append(out, member{key: k, text: item})
	}
	return out, nil
}

func formatBaggage(ms []member) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.text)
	}
	return b.String()
}

// BaggageValue returns the value of key in a baggage header (percent-
// decoded), and whether it is there. It is the one reader of baggage in
// duohuo, used on every request by the color propagator and the gray
// rules, so it scans without allocating (decoding allocates only for a
// value with escapes) and reads member by member: a member it cannot read
// (no '=', a key that is not the one asked for) is skipped rather than
// spoiling the rest, since routing must not depend on members written by
// others. The first member of key decides; a bad escape in its value holds
// nothing. [SetBaggage] and [RemoveBaggage] validate the whole header.
func BaggageValue(header, key string) (string, bool) {
	if key == "" || !strings.Contains(header, key) {
		return "", false // the common case, without scanning
	}
	for h := header; h != ""; {
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
		if eq < 0 || strings.Trim(item[:eq], " \t") != key {
			continue
		}
		dec, err := percentDecode(strings.Trim(item[eq+1:], " \t"))
		if err != nil {
			return "", false
		}
		return dec, true
	}
	return "", false
}

// SetBaggage returns header with key set to value: an existing member of
// key is replaced in place (its properties dropped), otherwise the member
// is appended; every other member is kept as written. value is
// percent-encoded where baggage requires. The result must respect the W3C
// limits, else the error wraps [ErrBaggage] (as it does for a malformed
// header; the caller decides whether to drop or keep the old header).
func SetBaggage(header, key, value string) (string, error) {
	if !isToken(key) {
		return "", fmt.Errorf("%w: key %q is not a token", ErrBaggage, key)
	}
	ms, err := parseBaggage(header)
	if err != nil {
		return "", err
	}
	text := key + "=" + percentEncode(value)
	replaced := false
	for i := range ms {
		if ms[i].key == key {
			if !replaced {
				ms[i].text = text
				replaced = true
				continue
			}
			ms[i].key = "" // a duplicate of key: dropped below
		}
	}
	if !replaced {
		ms = append(ms, member{key: key, text: text})
	}
	ms = compact(ms)
	if len(ms) > MaxBaggageMembers {
		return "", fmt.Errorf("%w: setting %q makes %d members, above %d", ErrBaggage, key, len(ms), MaxBaggageMembers)
	}
	out := formatBaggage(ms)
	if len(out) > MaxBaggageBytes {
		return "", fmt.Errorf("%w: setting %q makes %d bytes, above %d", ErrBaggage, key, len(out), MaxBaggageBytes)
	}
	return out, nil
}

// RemoveBaggage returns header without any member of key, the others kept
// as written. A malformed header is returned as an error wrapping
// [ErrBaggage]; a caller at a trust boundary should then drop the header.
func RemoveBaggage(header, key string) (string, error) {
	if !strings.Contains(header, key) {
		return header, nil
	}
	ms, err := parseBaggage(header)
	if err != nil {
		return "", err
	}
	for i := range ms {
		if ms[i].key == key {
			ms[i].key = ""
		}
	}
	return formatBaggage(compact(ms)), nil
}

func compact(ms []member) []member {
	out := ms[:0]
	for _, m := range ms {
		if m.key != "" {
			out = append(out, m)
		}
	}
	return out
}

// isToken reports whether s is an RFC 9110 token, the syntax of a baggage
// key.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// isBaggageOctet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (no space,
// '"', ',', ';', '\\').
func isBaggageOctet(c byte) bool {
	return c == 0x21 || c >= 0x23 && c <= 0x2B || c >= 0x2D && c <= 0x3A || c >= 0x3C && c <= 0x5B || c >= 0x5D && c <= 0x7E
}

func isBaggageValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBaggageOctet(s[i]) {
			return false
		}
	}
	return true
}

func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !isBaggageOctet(s[i]) || s[i] == '%' {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isBaggageOctet(c) || c == '%' {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: truncated escape", ErrBaggage)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("%w: bad escape %q", ErrBaggage, s[i:i+3])
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
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
