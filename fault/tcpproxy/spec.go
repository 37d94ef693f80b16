package tcpproxy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseToxic parses the compact text form of a toxic, as written by
// [FormatToxic] and accepted by `duohuo chaos proxy --toxic`:
//
//	[NAME=]KIND[:ARG[:ARG]][@DIRECTION][~TOXICITY]
//
//	latency:50ms            latency:50ms:10ms (delay, jitter)
//	bandwidth:65536         bytes per second
//	blackhole
//	limit_data:1024         bytes
//	reset_peer              reset_peer:2s (after)
//	timeout                 timeout:5s (drop data, close after)
//	slow_close:1s           delay of the end of stream
//	slicer:64               slicer:64:16:1ms (average size, variation, delay)
//	slow=latency:1s@upstream
//
// DIRECTION is upstream, downstream (the default, as in Toxiproxy) or both.
// NAME defaults to KIND_DIRECTION, Toxiproxy's default name. TOXICITY is the
// fraction of connections poisoned, in (0, 1] (default 1): "latency:1s~0.3".
// Errors wrap [ErrInvalidToxic] and quote the input.
func ParseToxic(s string) (Named, error) {
	fail := func(format string, args ...any) (Named, error) {
		return Named{}, fmt.Errorf("tcpproxy: toxic %q: %s: %w", s, fmt.Sprintf(format, args...), ErrInvalidToxic)
	}
	rest := strings.TrimSpace(s)
	name := ""
	if i := strings.IndexByte(rest, '='); i >= 0 {
		name, rest = rest[:i], rest[i+1:]
		if name == "" {
			return fail("empty name before '='")
		}
		for _, c := range []byte(name) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fail("name %q: character %q not allowed", name, c)
			}
		}
	}
	toxicity := 1.0
	if i := strings.LastIndexByte(rest, '~'); i >= 0 {
		f, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil || !(f > 0 && f <= 1) {
			return fail("toxicity %q: want a fraction in (0, 1]", rest[i+1:])
		}
		toxicity, rest = f, rest[:i]
	}
	dir := Downstream
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		d, err := ParseDirection(rest[i+1:])
		if err != nil {
			return fail("direction %q: want upstream, downstream or both", rest[i+1:])
		}
		dir, rest = d, rest[:i]
	}
	parts := strings.Split(rest, ":")
	kind, args := parts[0], parts[1:]
	nargs := func(min, max int) bool { return len(args) >= min && len(args) <= max }
	dur := func(i int) (time.Duration, error) {
		d, err := time.ParseDuration(args[i])
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration like 50ms", args[i])
		}
		return d, nil
	}
	num := func(i int) (int64, error) {
		n, err := strconv.ParseInt(args[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", args[i])
		}
		return n, nil
	}
	var t Toxic
	var err error
	switch kind {
	case "latency":
		if !nargs(1, 2) {
			return fail("latency takes DELAY[:JITTER]")
		}
		var l Latency
		if l.Delay, err = dur(0); err == nil && len(args) == 2 {
			l.Jitter, err = dur(1)
		}
		t = l
	case "bandwidth":
		if !nargs(1, 1) {
			return fail("bandwidth takes BYTES_PER_SECOND")
		}
		var b Bandwidth
		b.BytesPerSecond, err = num(0)
		t = b
	case "blackhole":
		if !nargs(0, 0) {
			return fail("blackhole takes no argument")
		}
		t = Blackhole{}
	case "limit_data":
		if !nargs(1, 1) {
			return fail("limit_data takes BYTES")
		}
		var l LimitData
		l.Bytes, err = num(0)
		t = l
	case "reset_peer":
		if !nargs(0, 1) {
			return fail("reset_peer takes [AFTER]")
		}
		var r ResetPeer
		if len(args) == 1 {
			r.After, err = dur(0)
		}
		t = r
	case "timeout":
		if !nargs(0, 1) {
			return fail("timeout takes [AFTER]")
		}
		var to Timeout
		if len(args) == 1 {
			to.After, err = dur(0)
		}
		t = to
	case "slow_close":
		if !nargs(1, 1) {
			return fail("slow_close takes DELAY")
		}
		var sc SlowClose
		sc.Delay, err = dur(0)
		t = sc
	case "slicer":
		if !nargs(1, 3) {
			return fail("slicer takes AVERAGE_SIZE[:VARIATION[:DELAY]]")
		}
		var sl Slicer
		var n int64
		if n, err = num(0); err == nil {
			sl.AverageSize = int(min(max(n, -1), MaxSliceSize+1))
			if len(args) >= 2 {
				if n, err = num(1); err == nil {
					sl.SizeVariation = int(min(max(n, -1), MaxSliceSize+1))
				}
			}
			if err == nil && len(args) == 3 {
				sl.Delay, err = dur(2)
			}
		}
		t = sl
	default:
		return fail("unknown kind %q: want latency, bandwidth, blackhole, limit_data, reset_peer, timeout, slow_close or slicer", kind)
	}
	if err != nil {
		return fail("%v", err)
	}
	if err := t.validate(); err != nil {
		return Named{}, fmt.Errorf("toxic %q: %w", s, err)
	}
	if name == "" {
		name = kind + "_" + dir.String()
	}
	return Named{Name: name, Direction: dir, Toxic: t, Toxicity: toxicity}, nil
}

// FormatToxic returns the compact form of n that [ParseToxic] reads.
func FormatToxic(n Named) string {
	var b strings.Builder
	if n.Name != "" {
		b.WriteString(n.Name)
		b.WriteByte('=')
	}
	switch t := n.Toxic.(type) {
	case Latency:
		b.WriteString("latency:" + t.Delay.String())
		if t.Jitter != 0 {
			b.WriteString(":" + t.Jitter.String())
		}
	case Bandwidth:
		b.WriteString("bandwidth:" + strconv.FormatInt(t.BytesPerSecond, 10))
	case Blackhole:
		b.WriteString("blackhole")
	case LimitData:
		b.WriteString("limit_data:" + strconv.FormatInt(t.Bytes, 10))
	case ResetPeer:
		b.WriteString("reset_peer")
		if t.After != 0 {
			b.WriteString(":" + t.After.String())
		}
	case Timeout:
		b.WriteString("timeout")
		if t.After != 0 {
			b.WriteString(":" + t.After.String())
		}
	case SlowClose:
		b.WriteString("slow_close:" + t.Delay.String())
	case Slicer:
		b.WriteString("slicer:" + strconv.Itoa(t.AverageSize) + ":" + strconv.Itoa(t.SizeVariation))
		if t.Delay != 0 {
			b.WriteString(":" + t.Delay.String())
		}
	}
	b.WriteByte('@')
	b.WriteString(n.Direction.String())
	if n.Toxicity != 0 && n.Toxicity != 1 {
		b.WriteByte('~')
		b.WriteString(strconv.FormatFloat(n.Toxicity, 'g', -1, 64))
	}
	return b.String()
}

// MarshalJSON writes {"name", "direction", "kind", "toxicity", "spec"},
// spec being the compact form of [FormatToxic] without the name.
func (n Named) MarshalJSON() ([]byte, error) {
	kind := ""
	if n.Toxic != nil {
		kind = n.Toxic.kind()
	}
	tox := n.Toxicity
	if tox == 0 {
		tox = 1
	}
	return json.Marshal(struct {
		Name      string  `json:"name"`
		Direction string  `json:"direction"`
		Kind      string  `json:"kind"`
		Toxicity  float64 `json:"toxicity"`
		Spec      string  `json:"spec"`
	}{n.Name, n.Direction.String(), kind, tox, FormatToxic(Named{Direction: n.Direction, Toxic: n.Toxic, Toxicity: n.Toxicity})})
}
