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

// Redactor hides the secret parts of keys before they are written to an
// audit log. It is immutable and safe for concurrent use.
//
// Each rule is a regular expression (RE2 syntax) matched against the key.
// If the expression has capturing groups, the text of each group that
// matched is replaced by [Secret]; otherwise the whole match is. Rules apply
// in order, each to the output of the previous one.
type Redactor struct {
	rules []*regexp.Regexp
}

// DefaultRedactRules hide key segments that name credentials, so that
// "/config/db/password" is logged as "/config/db/[secret]": a whole path
// segment that contains password, passwd, secret, token, credential or
// private_key (any case).
var DefaultRedactRules = []string{
	`(?i)(?:^|/)([^/]*(?:password|passwd|secret|token|credential|private_key)[^/]*)`,
}

// NewRedactor compiles rules; the error names the rule that does not
// compile. No rules gives a Redactor that only makes keys printable.
func NewRedactor(rules ...string) (*Redactor, error) {
	r := &Redactor{}
	for i, s := range rules {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("audit: redact rule %d %q: %w", i, s, err)
		}
		r.rules = append(r.rules, re)
	}
	return r, nil
}

// DefaultRedactor returns a Redactor with [DefaultRedactRules].
func DefaultRedactor() *Redactor {
	r, err := NewRedactor(DefaultRedactRules...)
	if err != nil {
		panic(err) // the defaults are constants that compile
	}
	return r
}

// Redact returns key with the secret parts replaced. A key that is not
// valid UTF-8 (etcd keys are bytes) is written as "0x" and its hex bytes,
// after redaction of nothing: rules see text only.
func (r *Redactor) Redact(key string) string {
	if !utf8.ValidString(key) {
		return "0x" + hex.EncodeToString([]byte(key))
	}
	for _, re := range r.rules {
		key = redactOne(re, key)
	}
	return key
}

func redactOne(re *regexp.Regexp, s string) string {
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
