package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// scalar is implemented by the value types of this package that are written
// as one YAML scalar with their own syntax.
type scalar interface {
	// parseScalar sets the receiver from the scalar's text, after ${VAR}
	// expansion. The error message says what is wrong and how to write it.
	parseScalar(text string) error
	// number returns the value as a number, for min/max checks.
	number() float64
	// schema returns the JSON Schema of the type.
	schema() map[string]any
}

var (
	_ scalar = (*Duration)(nil)
	_ scalar = (*Size)(nil)
	_ scalar = (*Percent)(nil)
	_ scalar = (*InstanceLabels)(nil)
	_ scalar = (*TryTimeout)(nil)
	_ scalar = (*StatusRange)(nil)
)

// Duration is a length of time written in Go's syntax: "250ms", "5s",
// "1m30s", "0s". Negative durations are rejected: no duration in the
// configuration has a meaning below zero. Convert with time.Duration(d).
type Duration time.Duration

// String returns the duration in Go's syntax, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler, so that a Config printed as
// JSON or YAML shows "250ms" rather than nanoseconds.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (d *Duration) UnmarshalText(b []byte) error { return d.parseScalar(string(b)) }

func (d *Duration) parseScalar(text string) error {
	t, err := time.ParseDuration(strings.TrimSpace(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit (ns, us, ms, s, m, h), e.g. 250ms or 1m30s", text)
	}
	if t < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", text)
	}
	*d = Duration(t)
	return nil
}

func (d Duration) number() float64 { return float64(d) }

// durationPattern matches what time.ParseDuration accepts without a sign.
const durationPattern = `^(0|([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$|\$\{`

func (Duration) schema() map[string]any {
	return map[string]any{
		"title":    "duration",
		"type":     "string",
		"pattern":  durationPattern,
		"examples": []any{"250ms", "5s", "1m30s"},
	}
}

// TryTimeout is a per-try timeout: "auto" (derived from measured latency,
// see docs/resilience.md), a duration ("300ms", fixed), or "0s" (none: only
// the route timeout). The zero TryTimeout is "0s".
type TryTimeout struct {
	Auto  bool
	Fixed Duration // when not Auto; 0 means none
}

// String returns "auto" or the duration.
func (t TryTimeout) String() string {
	if t.Auto {
		return "auto"
	}
	return t.Fixed.String()
}

// MarshalText implements encoding.TextMarshaler.
func (t TryTimeout) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (t *TryTimeout) UnmarshalText(b []byte) error { return t.parseScalar(string(b)) }

func (t *TryTimeout) parseScalar(text string) error {
	if strings.TrimSpace(text) == "auto" {
		*t = TryTimeout{Auto: true}
		return nil
	}
	var d Duration
	if err := d.parseScalar(text); err != nil {
		return fmt.Errorf("invalid per-try timeout %q: write auto, or a duration such as 300ms (0s for none)", text)
	}
	*t = TryTimeout{Fixed: d}
	return nil
}

func (t TryTimeout) number() float64 { return float64(t.Fixed) }

func (TryTimeout) schema() map[string]any {
	return map[string]any{
		"title":    "per-try timeout",
		"type":     "string",
		"pattern":  `^auto$|` + durationPattern,
		"examples": []any{"auto", "300ms", "0s"},
	}
}

// Size is a number of bytes, written as a plain integer ("1024") or a number
// with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
// (powers of 1024), e.g. "64KiB", "4MiB", "1.5GB". Units are case-insensitive.
type Size int64

// Units of Size.
const (
	KiB Size = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"kib": float64(KiB), "mib": float64(MiB), "gib": float64(GiB), "tib": float64(TiB),
}

// String returns the size with the largest binary unit that divides it, e.g.
// "4MiB", "1500B".
func (s Size) String() string {
	for _, u := range []struct {
		n    Size
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (s *Size) UnmarshalText(b []byte) error { return s.parseScalar(string(b)) }

func (s *Size) parseScalar(text string) error {
	t := strings.TrimSpace(text)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return fmt.Errorf("invalid size %q: write bytes or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 4MiB", text)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return fmt.Errorf("invalid size %q: write bytes or a number with a unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. 4MiB", text)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return fmt.Errorf("invalid size %q: too large", text)
	}
	if v != math.Trunc(v) {
		return fmt.Errorf("invalid size %q: not a whole number of bytes", text)
	}
	*s = Size(v)
	return nil
}

func (s Size) number() float64 { return float64(s) }

// The schema's patterns are ECMA-262 regular expressions (JSON Schema's
// dialect), which have no inline flags: case-insensitive units are spelt out.
func (Size) schema() map[string]any {
	return map[string]any{
		"title": "size",
		"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?\s*([bB]|[kKmMgGtT]([bB]|[iI][bB])?)?$|\$\{`},
		},
		"examples": []any{"64KiB", "4MiB", 1024},
	}
}

// Percent is a share written as "50%" or as a plain number of percent ("50",
// "12.5"). The value is in percent: Percent(50) is one half.
type Percent float64

// Fraction returns the share as a number between 0 and 1.
func (p Percent) Fraction() float64 { return float64(p) / 100 }

// String returns the share with a percent sign, e.g. "12.5%".
func (p Percent) String() string { return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%" }

// MarshalText implements encoding.TextMarshaler.
func (p Percent) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (p *Percent) UnmarshalText(b []byte) error { return p.parseScalar(string(b)) }

func (p *Percent) parseScalar(text string) error {
	t := strings.TrimSpace(text)
	t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("invalid percentage %q: write e.g. 50%% or 12.5", text)
	}
	*p = Percent(f)
	return nil
}

func (p Percent) number() float64 { return float64(p) }

func (Percent) schema() map[string]any {
	return map[string]any{
		"title": "percent",
		"anyOf": []any{
			map[string]any{"type": "number", "minimum": 0, "maximum": 100},
			map[string]any{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?\s*%$|\$\{`},
		},
		"examples": []any{"50%", 10},
	}
}

// InstanceLabels bounds per-instance metric series: 0 means off, n means at
// most n distinct instances are labelled. In the file it is false, true
// (DefaultInstanceLabels) or a number.
type InstanceLabels int

// DefaultInstanceLabels is what "instance_labels: true" means: enough for a
// few services of tens of instances, small enough that a registry that
// floods the gateway with instances cannot flood Prometheus too.
const DefaultInstanceLabels InstanceLabels = 256

// String returns "false" or the limit.
func (l InstanceLabels) String() string {
	if l == 0 {
		return "false"
	}
	return strconv.Itoa(int(l))
}

// MarshalText implements encoding.TextMarshaler.
func (l InstanceLabels) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (l *InstanceLabels) UnmarshalText(b []byte) error { return l.parseScalar(string(b)) }

func (l *InstanceLabels) parseScalar(text string) error {
	switch t := strings.TrimSpace(text); t {
	case "true":
		*l = DefaultInstanceLabels
	case "false":
		*l = 0
	default:
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > 1_000_000 {
			return fmt.Errorf("invalid instance_labels %q: write true, false or a number of instances between 0 and 1000000", text)
		}
		*l = InstanceLabels(n)
	}
	return nil
}

func (l InstanceLabels) number() float64 { return float64(l) }

func (InstanceLabels) schema() map[string]any {
	return map[string]any{
		"title": "boolean or count",
		"anyOf": []any{
			map[string]any{"type": "boolean"},
			map[string]any{"type": "integer", "minimum": 0, "maximum": 1000000},
		},
	}
}

// StatusRange is an HTTP status or a range of them, From to To included,
// written as one status ("200"), a range ("200-399") or a class ("2xx").
type StatusRange struct {
	From, To int
}

// String returns "200" or "200-399".
func (r StatusRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To)
}

// MarshalText implements encoding.TextMarshaler.
func (r StatusRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the file's syntax.
func (r *StatusRange) UnmarshalText(b []byte) error { return r.parseScalar(string(b)) }

func (r *StatusRange) parseScalar(text string) error {
	t := strings.TrimSpace(text)
	bad := fmt.Errorf("invalid status %q: write an HTTP status (200), a range (200-399) or a class (2xx), between 100 and 599", text)
	status := func(s string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		return n, err == nil && n >= 100 && n <= 599
	}
	var out StatusRange
	if c, ok := strings.CutSuffix(strings.ToLower(t), "xx"); ok && len(c) == 1 {
		n, ok := status(c + "00")
		if !ok {
			return bad
		}
		out = StatusRange{n, n + 99}
	} else if lo, hi, isRange := strings.Cut(t, "-"); isRange {
		a, ok1 := status(lo)
		b, ok2 := status(hi)
		if !ok1 || !ok2 {
			return bad
		}
		if a > b {
			return fmt.Errorf("invalid status range %q: %d is above %d", text, a, b)
		}
		out = StatusRange{a, b}
	} else {
		n, ok := status(t)
		if !ok {
			return bad
		}
		out = StatusRange{n, n}
	}
	*r = out
	return nil
}

func (r StatusRange) number() float64 { return float64(r.From) }

func (StatusRange) schema() map[string]any {
	return map[string]any{
		"title": "status or range",
		"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 100, "maximum": 599},
			map[string]any{"type": "string", "pattern": `^\s*[1-5]([0-9][0-9]|[xX][xX])\s*$|^\s*[1-5][0-9][0-9]\s*-\s*[1-5][0-9][0-9]\s*$|\$\{`},
		},
		"examples": []any{200, "200-399", "2xx"},
	}
}
