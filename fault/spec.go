package fault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxDelay is the longest delay a [Spec] may inject; longer delays are
// refused as configuration mistakes (no client waits that long).
const MaxDelay = time.Hour

// Spec is the fault of one rule: a delay, an abort, or both, each for a
// percentage of the matching requests (drawn independently, delay first, as
// Envoy's fault filter does). At least one of Delay and Abort is set.
//
// A Spec is a value; a [Filter] copies it and never changes it.
type Spec struct {
	Delay *Delay `json:"delay,omitempty"`
	Abort *Abort `json:"abort,omitempty"`
	// HeaderTrigger limits the faults to requests that ask for them with
	// the x-duohuo-fault-* headers (see [HeaderDelay], [HeaderAbort]); the
	// header values may shorten the delay, choose the abort, and lower the
	// percentage, never exceed what the Spec allows. False: every matching
	// request is eligible and the headers are ignored.
	HeaderTrigger bool `json:"header_trigger,omitempty"`
}

// Delay delays a request before it is passed on.
type Delay struct {
	// Duration is the delay, in (0, MaxDelay]. With HeaderTrigger it is the
	// maximum a request header may ask for.
	Duration time.Duration
	// Percent of matching requests delayed, in (0, 100]; 0 means 100.
	Percent float64
}

// Abort answers a request without passing it on: with Status, or by
// resetting the client connection when Reset is true. Exactly one of Status
// and Reset is set.
type Abort struct {
	Status int  // HTTP status in [200, 600)
	Reset  bool // reset the connection (TCP RST) instead of answering
	// Percent of matching requests aborted, in (0, 100]; 0 means 100.
	Percent float64
}

// ErrInvalidSpec is wrapped by every error about a fault spec, rule or table;
// a [*SpecError] carries the details of a compact spec string.
var ErrInvalidSpec = errors.New("invalid fault spec")

// SpecError is a syntax or range error in a compact spec string, with the
// byte offset of the item at fault. It wraps [ErrInvalidSpec].
type SpecError struct {
	Spec   string // the whole input
	Offset int    // byte offset of the offending item in Spec
	Msg    string
}

// Error returns `fault spec "…": at byte N: message`.
func (e *SpecError) Error() string {
	return fmt.Sprintf("fault spec %q: at byte %d: %s", e.Spec, e.Offset, e.Msg)
}

// Unwrap returns [ErrInvalidSpec].
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// ParseSpec parses the compact form of a Spec, as written by [Spec.String]:
// comma-separated items, each at most once, in any order:
//
//	delay=DURATION[@PERCENT%]    delay=200ms@10%   (Go duration; percent default 100)
//	abort=STATUS[@PERCENT%]      abort=503@5%
//	abort=reset[@PERCENT%]       abort=reset@1%
//	header                       only when the request asks (HeaderTrigger)
//
// Errors are [*SpecError]s naming the offending item.
func ParseSpec(s string) (Spec, error) {
	var sp Spec
	fail := func(off int, format string, args ...any) (Spec, error) {
		return Spec{}, &SpecError{Spec: s, Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(s) == "" {
		return fail(0, "empty: want delay=…, abort=… or both")
	}
	off := 0
	for item := range strings.SplitSeq(s, ",") {
		start := off
		off += len(item) + 1
		trimmed := strings.TrimSpace(item)
		start += strings.Index(item, trimmed)
		key, val, hasVal := strings.Cut(trimmed, "=")
		switch key {
		case "header":
			if hasVal {
				return fail(start, "header takes no value")
			}
			if sp.HeaderTrigger {
				return fail(start, "header given twice")
			}
			sp.HeaderTrigger = true
		case "delay":
			if sp.Delay != nil {
				return fail(start, "delay given twice")
			}
			v, pct, err := splitPercent(val)
			if err != nil {
				return fail(start, "delay: %v", err)
			}
			d, err := time.ParseDuration(v)
			if err != nil {
				return fail(start, "delay: %q is not a duration like 200ms", v)
			}
			sp.Delay = &Delay{Duration: d, Percent: pct}
			if err := sp.Delay.validate(); err != nil {
				return fail(start, "%v", err)
			}
		case "abort":
			if sp.Abort != nil {
				return fail(start, "abort given twice")
			}
			v, pct, err := splitPercent(val)
			if err != nil {
				return fail(start, "abort: %v", err)
			}
			a := &Abort{Percent: pct}
			if v == "reset" {
				a.Reset = true
			} else if a.Status, err = strconv.Atoi(v); err != nil {
				return fail(start, "abort: %q is neither an HTTP status nor reset", v)
			}
			if err := a.validate(); err != nil {
				return fail(start, "%v", err)
			}
			sp.Abort = a
		case "":
			return fail(start, "empty item")
		default:
			return fail(start, "unknown item %q: want delay, abort or header", key)
		}
	}
	if sp.Delay == nil && sp.Abort == nil {
		return fail(0, "no fault: want delay=…, abort=… or both")
	}
	return sp, nil
}

// splitPercent splits "VALUE[@PERCENT[%]]"; the percent defaults to 100.
func splitPercent(s string) (string, float64, error) {
	v, p, ok := strings.Cut(s, "@")
	if v == "" {
		return "", 0, errors.New("missing value")
	}
	if !ok {
		return v, 100, nil
	}
	pct, err := strconv.ParseFloat(strings.TrimSuffix(p, "%"), 64)
	if err != nil {
		return "", 0, fmt.Errorf("percent %q is not a number", p)
	}
	if err := checkExplicitPercent(pct); err != nil {
		return "", 0, err
	}
	return v, pct, nil
}

// checkPercent accepts the zero value (meaning 100) and (0, 100].
func checkPercent(p float64) error {
	if math.IsNaN(p) || p < 0 || p > 100 {
		return fmt.Errorf("percent %v not in (0, 100]", p)
	}
	return nil
}

// checkExplicitPercent is for a percent written out in text, where 0 is
// a mistake (remove the rule to disable a fault) rather than a default.
func checkExplicitPercent(p float64) error {
	if p == 0 {
		return errors.New("percent 0: remove the fault to disable it")
	}
	return checkPercent(p)
}

func (d *Delay) validate() error {
	if d.Duration <= 0 || d.Duration > MaxDelay {
		return fmt.Errorf("delay %v not in (0, %v]", d.Duration, MaxDelay)
	}
	return checkPercent(d.Percent)
}

func (a *Abort) validate() error {
	switch {
	case a.Reset && a.Status != 0:
		return fmt.Errorf("abort: both status %d and reset; want one", a.Status)
	case !a.Reset && (a.Status < 200 || a.Status >= 600):
		return fmt.Errorf("abort: status %d not in [200, 600)", a.Status)
	}
	return checkPercent(a.Percent)
}

// Validate reports whether s is a usable spec; the error wraps
// [ErrInvalidSpec].
func (s Spec) Validate() error {
	if s.Delay == nil && s.Abort == nil {
		return fmt.Errorf("no fault: want a delay, an abort or both: %w", ErrInvalidSpec)
	}
	if s.Delay != nil {
		if err := s.Delay.validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
	}
	if s.Abort != nil {
		if err := s.Abort.validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
	}
	return nil
}

// String returns the compact form that [ParseSpec] reads, e.g.
// "delay=200ms@10%,abort=503@5%,header". A percent of 0 or 100 is left out.
func (s Spec) String() string {
	var b strings.Builder
	sep := func() {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
	}
	pct := func(p float64) {
		if p != 0 && p != 100 {
			b.WriteByte('@')
			b.WriteString(strconv.FormatFloat(p, 'g', -1, 64))
			b.WriteByte('%')
		}
	}
	if s.Delay != nil {
		b.WriteString("delay=")
		b.WriteString(s.Delay.Duration.String())
		pct(s.Delay.Percent)
	}
	if s.Abort != nil {
		sep()
		b.WriteString("abort=")
		if s.Abort.Reset {
			b.WriteString("reset")
		} else {
			b.WriteString(strconv.Itoa(s.Abort.Status))
		}
		pct(s.Abort.Percent)
	}
	if s.HeaderTrigger {
		sep()
		b.WriteString("header")
	}
	return b.String()
}

// percentOr100 maps the documented zero value to 100.
func percentOr100(p float64) float64 {
	if p == 0 {
		return 100
	}
	return p
}

// The JSON forms. A Spec is written as an object; it is read from either an
// object or a compact string, so that a config file may say
// "spec": "delay=200ms@10%".
type delayJSON struct {
	Duration string   `json:"duration"`
	Percent  *float64 `json:"percent,omitempty"`
}

type abortJSON struct {
	Status  int      `json:"status,omitempty"`
	Reset   bool     `json:"reset,omitempty"`
	Percent *float64 `json:"percent,omitempty"`
}

// MarshalJSON writes the duration as a Go duration string and the percent
// explicitly.
func (d Delay) MarshalJSON() ([]byte, error) {
	p := percentOr100(d.Percent)
	return json.Marshal(delayJSON{Duration: d.Duration.String(), Percent: &p})
}

// UnmarshalJSON reads {"duration": "200ms", "percent": 10}; percent defaults
// to 100. It does not validate ranges; [Spec.UnmarshalJSON] does.
func (d *Delay) UnmarshalJSON(b []byte) error {
	var w delayJSON
	if err := strictUnmarshal(b, &w); err != nil {
		return fmt.Errorf("delay: %w", err)
	}
	dur, err := time.ParseDuration(w.Duration)
	if err != nil {
		return fmt.Errorf("delay: duration %q is not a duration like 200ms: %w", w.Duration, ErrInvalidSpec)
	}
	*d = Delay{Duration: dur, Percent: 100}
	if w.Percent != nil {
		if err := checkExplicitPercent(*w.Percent); err != nil {
			return fmt.Errorf("delay: %w: %w", ErrInvalidSpec, err)
		}
		d.Percent = *w.Percent
	}
	return nil
}

// MarshalJSON writes the percent explicitly.
func (a Abort) MarshalJSON() ([]byte, error) {
	p := percentOr100(a.Percent)
	return json.Marshal(abortJSON{Status: a.Status, Reset: a.Reset, Percent: &p})
}

// UnmarshalJSON reads {"status": 503, "percent": 5} or {"reset": true};
// percent defaults to 100.
func (a *Abort) UnmarshalJSON(b []byte) error {
	var w abortJSON
	if err := strictUnmarshal(b, &w); err != nil {
		return fmt.Errorf("abort: %w", err)
	}
	*a = Abort{Status: w.Status, Reset: w.Reset, Percent: 100}
	if w.Percent != nil {
		if err := checkExplicitPercent(*w.Percent); err != nil {
			return fmt.Errorf("abort: %w: %w", ErrInvalidSpec, err)
		}
		a.Percent = *w.Percent
	}
	return nil
}

// UnmarshalJSON reads a Spec from an object or a compact string and
// validates it.
func (s *Spec) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		sp, err := ParseSpec(str)
		if err != nil {
			return err
		}
		*s = sp
		return nil
	}
	type plain Spec // without this method
	var p plain
	if err := strictUnmarshal(b, &p); err != nil {
		return err
	}
	if err := Spec(p).Validate(); err != nil {
		return err
	}
	*s = Spec(p)
	return nil
}

// strictUnmarshal decodes one JSON value, refusing unknown fields and
// trailing data, and wraps syntax errors with ErrInvalidSpec.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, ErrInvalidSpec) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	// Token, not More: More reports false before a stray ']' or '}'.
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after JSON value", ErrInvalidSpec)
	}
	return nil
}

// decodeObject is strictUnmarshal for a whole document, which must be one
// JSON object: null would decode as the zero value, and a PUT of "null"
// would silently empty the table.
func decodeObject(b []byte, v any) error {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		return fmt.Errorf("%w: want a JSON object", ErrInvalidSpec)
	}
	return strictUnmarshal(b, v)
}
