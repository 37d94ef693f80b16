package toxiapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// toxic is a toxic as the API knows it: Toxiproxy's fields, kept as given,
// and typed attributes that map onto a [tcpproxy.Toxic].
type toxic struct {
	name     string
	typ      string
	stream   string // as given; dir is what it means
	dir      tcpproxy.Direction
	toxicity float32
	attrs    attributes
}

// attributes are the type-specific fields of a toxic, decoded from and
// encoded to Toxiproxy's "attributes" object. Implementations are pointers
// to structs, so that an update decodes over the current values as
// Toxiproxy's does.
type attributes interface {
	// toxic returns the tcpproxy toxic, or nil for one that does nothing
	// (noop, bandwidth 0), or an error naming the bad field.
	toxic() (tcpproxy.Toxic, error)
	clone() attributes
}

// newAttributes returns the zero attributes of a toxic type, or nil for a
// type that Toxiproxy 2.5.0 does not have.
func newAttributes(typ string) attributes {
	switch typ {
	case "latency":
		return &latencyAttrs{}
	case "bandwidth":
		return &bandwidthAttrs{}
	case "slow_close":
		return &slowCloseAttrs{}
	case "timeout":
		return &timeoutAttrs{}
	case "reset_peer":
		return &resetPeerAttrs{}
	case "slicer":
		return &slicerAttrs{}
	case "limit_data":
		return &limitDataAttrs{}
	case "noop":
		return &noopAttrs{}
	}
	return nil
}

// Toxiproxy's attribute units: milliseconds for latency, jitter, delay and
// timeout, microseconds for the slicer's delay, KB/s (1000 bytes) for rate.
type (
	latencyAttrs struct {
		Latency int64 `json:"latency"`
		Jitter  int64 `json:"jitter"`
	}
	bandwidthAttrs struct {
		Rate int64 `json:"rate"`
	}
	slowCloseAttrs struct {
		Delay int64 `json:"delay"`
	}
	timeoutAttrs struct {
		Timeout int64 `json:"timeout"`
	}
	resetPeerAttrs struct {
		Timeout int64 `json:"timeout"`
	}
	slicerAttrs struct {
		AverageSize   int `json:"average_size"`
		SizeVariation int `json:"size_variation"`
		Delay         int `json:"delay"`
	}
	limitDataAttrs struct {
		Bytes int64 `json:"bytes"`
	}
	noopAttrs struct{}
)

// duration converts a non-negative count of unit to a duration, refusing
// negatives and values past [tcpproxy.MaxDuration].
func duration(field string, v int64, unit time.Duration) (time.Duration, error) {
	if v < 0 {
		return 0, fmt.Errorf("%s %d: negative", field, v)
	}
	if v > int64(tcpproxy.MaxDuration/unit) {
		return 0, fmt.Errorf("%s %d: longer than %v", field, v, tcpproxy.MaxDuration)
	}
	return time.Duration(v) * unit, nil
}

func (a *latencyAttrs) toxic() (tcpproxy.Toxic, error) {
	d, err := duration("latency", a.Latency, time.Millisecond)
	if err != nil {
		return nil, err
	}
	j, err := duration("jitter", a.Jitter, time.Millisecond)
	if err != nil {
		return nil, err
	}
	// Toxiproxy draws latency ± jitter and sends at once when that is
	// negative; tcpproxy keeps the jitter within the latency instead.
	return tcpproxy.Latency{Delay: d, Jitter: min(j, d)}, nil
}

func (a *bandwidthAttrs) toxic() (tcpproxy.Toxic, error) {
	switch {
	case a.Rate < 0:
		return nil, fmt.Errorf("rate %d: negative", a.Rate)
	case a.Rate == 0: // Toxiproxy: no limit
		return nil, nil
	case a.Rate > math.MaxInt64/1000:
		return nil, fmt.Errorf("rate %d: too large", a.Rate)
	}
	return tcpproxy.Bandwidth{BytesPerSecond: a.Rate * 1000}, nil
}

func (a *slowCloseAttrs) toxic() (tcpproxy.Toxic, error) {
	d, err := duration("delay", a.Delay, time.Millisecond)
	return tcpproxy.SlowClose{Delay: d}, err
}

func (a *timeoutAttrs) toxic() (tcpproxy.Toxic, error) {
	d, err := duration("timeout", a.Timeout, time.Millisecond)
	return tcpproxy.Timeout{After: d}, err
}

func (a *resetPeerAttrs) toxic() (tcpproxy.Toxic, error) {
	d, err := duration("timeout", a.Timeout, time.Millisecond)
	return tcpproxy.ResetPeer{After: d}, err
}

func (a *slicerAttrs) toxic() (tcpproxy.Toxic, error) {
	switch {
	case a.AverageSize <= 0 || a.AverageSize > tcpproxy.MaxSliceSize:
		return nil, fmt.Errorf("average_size %d: must be between 1 and %d", a.AverageSize, tcpproxy.MaxSliceSize)
	case a.SizeVariation < 0 || a.SizeVariation > a.AverageSize:
		return nil, fmt.Errorf("size_variation %d: must be between 0 and average_size %d", a.SizeVariation, a.AverageSize)
	}
	d, err := duration("delay", int64(a.Delay), time.Microsecond)
	return tcpproxy.Slicer{AverageSize: a.AverageSize, SizeVariation: a.SizeVariation, Delay: d}, err
}

func (a *limitDataAttrs) toxic() (tcpproxy.Toxic, error) {
	if a.Bytes < 0 {
		return nil, fmt.Errorf("bytes %d: negative", a.Bytes)
	}
	return tcpproxy.LimitData{Bytes: a.Bytes}, nil
}

func (*noopAttrs) toxic() (tcpproxy.Toxic, error) { return nil, nil }

func (a *latencyAttrs) clone() attributes   { c := *a; return &c }
func (a *bandwidthAttrs) clone() attributes { c := *a; return &c }
func (a *slowCloseAttrs) clone() attributes { c := *a; return &c }
func (a *timeoutAttrs) clone() attributes   { c := *a; return &c }
func (a *resetPeerAttrs) clone() attributes { c := *a; return &c }
func (a *slicerAttrs) clone() attributes    { c := *a; return &c }
func (a *limitDataAttrs) clone() attributes { c := *a; return &c }
func (a *noopAttrs) clone() attributes      { return &noopAttrs{} }

// parseStream reads Toxiproxy's stream field, case-insensitively.
func parseStream(s string) (tcpproxy.Direction, bool) {
	switch strings.ToLower(s) {
	case "upstream":
		return tcpproxy.Upstream, true
	case "downstream":
		return tcpproxy.Downstream, true
	}
	return 0, false
}

// named returns what to set on a tcpproxy.Proxy for t, and false if t does
// nothing (a noop, a zero rate, a toxicity of 0 or less: Toxiproxy draws
// rand < toxicity, which never holds then).
func (t *toxic) named() (tcpproxy.Named, bool) {
	x, err := t.attrs.toxic()
	if err != nil || x == nil || !(t.toxicity > 0) {
		return tcpproxy.Named{}, false
	}
	return tcpproxy.Named{Name: t.name, Direction: t.dir, Toxic: x, Toxicity: float64(min(t.toxicity, 1))}, true
}

// toxicJSON is a toxic as Toxiproxy 2.5.0 writes it.
type toxicJSON struct {
	Attributes attributes `json:"attributes"`
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Stream     string     `json:"stream"`
	Toxicity   float32    `json:"toxicity"`
}

func (t *toxic) view() toxicJSON {
	return toxicJSON{Attributes: t.attrs, Name: t.name, Type: t.typ, Stream: t.stream, Toxicity: t.toxicity}
}

// decodeToxic reads the body of POST /proxies/{proxy}/toxics with
// Toxiproxy's defaults (stream downstream, toxicity 1, name TYPE_STREAM)
// and checks it in Toxiproxy's order. It does not look for a name
// conflict.
func decodeToxic(body []byte) (*toxic, *Error) {
	in := struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Stream     string          `json:"stream"`
		Toxicity   float32         `json:"toxicity"`
		Attributes json.RawMessage `json:"attributes"`
	}{Stream: "downstream", Toxicity: 1}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badBody(err)
	}
	dir, ok := parseStream(in.Stream)
	if !ok {
		return nil, errInvalidStream
	}
	if in.Name == "" {
		in.Name = in.Type + "_" + in.Stream
	}
	attrs := newAttributes(in.Type)
	if attrs == nil {
		return nil, errInvalidToxicType
	}
	if err := decodeAttributes(in.Attributes, attrs); err != nil {
		return nil, err
	}
	return &toxic{name: in.Name, typ: in.Type, stream: in.Stream, dir: dir, toxicity: in.Toxicity, attrs: attrs}, nil
}

// decodeToxicUpdate reads the body of POST /proxies/{proxy}/toxics/{toxic}
// over a copy of cur: attributes not given keep their values, and so does
// the toxicity.
func decodeToxicUpdate(cur *toxic, body []byte) (*toxic, *Error) {
	in := struct {
		Toxicity   float32         `json:"toxicity"`
		Attributes json.RawMessage `json:"attributes"`
	}{Toxicity: cur.toxicity}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badBody(err)
	}
	next := *cur
	next.toxicity = in.Toxicity
	next.attrs = cur.attrs.clone()
	if err := decodeAttributes(in.Attributes, next.attrs); err != nil {
		return nil, err
	}
	return &next, nil
}

func decodeAttributes(raw json.RawMessage, into attributes) *Error {
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, into); err != nil {
			return badBody(err)
		}
	}
	if _, err := into.toxic(); err != nil {
		return badBody(err)
	}
	return nil
}
