package audit

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Secret replaces the redacted parts of a key.
const Secret = "[secret]"

// RedactRules says which parts of keys are secret. The zero value redacts
// nothing.
type RedactRules struct {
	// Words: a path segment (between '/') that contains any of these words,
	// in any ASCII case, is replaced whole by [Secret]. Cheap: no regular
	// expression runs.
	Words []string `json:"words,omitempty"`
	// Patterns are regular expressions (RE2 syntax) matched against the key
	// after Words. If a pattern has capturing groups, the text of each group
	// that matched is replaced by [Secret]; otherwise the whole match is.
	// Patterns apply in order, each to the output of the previous one.
	Patterns []string `json:"patterns,omitempty"`
}

// DefaultRedactWords are the words of [DefaultRedactor]: path segments that
// name credentials, so that "/config/db/password" is logged as
// "/config/db/[secret]".
var DefaultRedactWords = []string{"password", "passwd", "secret", "token", "credential", "private_key", "privatekey"}

// Redactor hides the secret parts of keys before they are written to an
// audit log. It is immutable and safe for concurrent use.
type Redactor struct {
	words    []string // lower case
	patterns []*regexp.Regexp
}

// NewRedactor compiles rules; the error names the pattern that does not
// compile.
func NewRedactor(rules RedactRules) (*Redactor, error) {
	r := &Redactor{}
	for _, w := range rules.Words {
		if w == "" || strings.Contains(w, "/") {
			return nil, fmt.Errorf("audit: redact word %q: want a non-empty word without '/'", w)
		}
		r.words = append(r.words, strings.ToLower(w))
	}
	for i, s := range rules.Patterns {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("audit: redact pattern %d %q: %w", i, s, err)
		}
		r.patterns = append(r.patterns, re)
	}
	return r, nil
}

// DefaultRedactor returns a Redactor with [DefaultRedactWords] and no
// patterns.
func DefaultRedactor() *Redactor {
	r, _ := NewRedactor(RedactRules{Words: DefaultRedactWords}) // constants: cannot fail
	return r
}

// Redact returns key with the secret parts replaced. A key that is not
// valid UTF-8 (etcd keys are bytes) is written as "0x" and its hex bytes:
// rules see text only. Redact does not allocate for a key it leaves as is
// (unless a pattern has to run).
func (r *Redactor) Redact(key string) string {
	if !utf8.ValidString(key) {
		return "0x" + hex.EncodeToString([]byte(key))
	}
	if len(r.words) > 0 {
		key = r.redactWords(key)
	}
	for _, re := range r.patterns {
		key = redactPattern(re, key)
	}
	return key
}

func (r *Redactor) redactWords(key string) string {
	var b *strings.Builder
	start := 0 // start of the current segment
	last := 0  // end of what b holds
	for i := 0; i <= len(key); i++ {
		if i < len(key) && key[i] != '/' {
			continue
		}
		seg := key[start:i]
		if seg != "" && r.secretSegment(seg) {
			if b == nil {
				b = &strings.Builder{}
				b.Grow(len(key))
			}
			b.WriteString(key[last:start])
			b.WriteString(Secret)
			last = i
		}
		start = i + 1
	}
	if b == nil {
		return key
	}
	b.WriteString(key[last:])
	return b.String()
}

func (r *Redactor) secretSegment(seg string) bool {
	for _, w := range r.words {
		if containsFold(seg, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case word w, ignoring
// ASCII case, without allocating.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

func redactPattern(re *regexp.Regexp, s string) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		if len(m) == 2 { // no groups: the whole match
			b.WriteString(s[last:m[0]])
			b.WriteString(Secret)
			last = m[1]
			continue
		}
		for g := 2; g < len(m); g += 2 {
			if m[g] < 0 || m[g] < last {
				continue
			}
			b.WriteString(s[last:m[g]])
			b.WriteString(Secret)
			last = m[g+1]
		}
	}
	b.WriteString(s[last:])
	return b.String()
}
