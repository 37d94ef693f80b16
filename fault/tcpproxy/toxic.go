package tcpproxy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Direction says which way data flows through the proxy. The names follow
// Toxiproxy: Upstream is client → server, Downstream is server → client.
type Direction uint8

// The directions. Both is the union; a toxic may apply to either or both.
const (
	Upstream   Direction = 1 << iota // client → server
	Downstream                       // server → client
	Both       = Upstream | Downstream
)

// String returns "upstream", "downstream", "both" or "none".
func (d Direction) String() string {
	switch d {
	case Upstream:
		return "upstream"
	case Downstream:
		return "downstream"
	case Both:
		return "both"
	default:
		return "none"
	}
}

// ParseDirection parses the output of [Direction.String] (except "none").
func ParseDirection(s string) (Direction, error) {
	switch strings.ToLower(s) {
	case "upstream", "up":
		return Upstream, nil
	case "downstream", "down":
		return Downstream, nil
	case "both":
		return Both, nil
	}
	return 0, fmt.Errorf("tcpproxy: direction %q: want upstream, downstream or both: %w", s, ErrInvalidToxic)
}

// Toxic is a fault applied to the data of one direction of every connection
// through a [Proxy]. The implementations are [Latency], [Bandwidth],
// [Blackhole], [LimitData], [ResetPeer], [Timeout], [SlowClose] and
// [Slicer]; the set is closed.
//
// Toxics are values: they are copied when set and never changed afterwards.
type Toxic interface {
	validate() error
	kind() string
}

// Latency delays every chunk of data by Delay ± Jitter (uniformly drawn per
// chunk), measured from when the proxy read the chunk, as Toxiproxy's
// latency toxic does. Order is preserved: a chunk never overtakes an earlier
// one, so a large jitter stretches the stream rather than reordering it.
// Several Latency toxics in one direction add up.
type Latency struct {
	Delay  time.Duration
	Jitter time.Duration // 0 = exactly Delay; must not exceed Delay
}

// Bandwidth limits the rate of one direction to BytesPerSecond. Several
// Bandwidth toxics in one direction: the lowest rate wins.
type Bandwidth struct {
	BytesPerSecond int64 // must be > 0
}

// Blackhole silently drops all data of a direction while it is set, like a
// network partition: the connection stays open, nothing arrives, and the
// sender is not slowed down. An end of stream (FIN) read while the blackhole
// is set is held back until the blackhole is removed.
type Blackhole struct{}

// LimitData closes the connection (both sides, with FIN) once Bytes bytes
// have been forwarded in its direction since the connection was accepted.
// Bytes 0 closes a connection as soon as any data would pass. Several
// LimitData toxics in one direction: the lowest limit wins.
type LimitData struct {
	Bytes int64 // must be >= 0
}

// ResetPeer resets connections with a TCP RST (SO_LINGER 0) After the later
// of the connection's start and the moment the toxic was set. The direction
// says who sees the reset: Upstream resets the connection to the server,
// Downstream the connection to the client, Both both; the other side, if
// any, is closed normally. After 0 resets new connections as soon as they
// are accepted.
type ResetPeer struct {
	After time.Duration // must be >= 0
}

// Timeout drops all data of a direction, as [Blackhole] does, and closes
// the connection (FIN on both sides) After the later of the connection's
// start and the moment the toxic was set, as Toxiproxy's timeout toxic
// does: the client sees a server that stops answering and then hangs up.
// After 0 never closes; the data is dropped until the toxic is removed.
// An end of stream read while it is set is held back, as for Blackhole.
type Timeout struct {
	After time.Duration // must be >= 0; 0 = drop data, never close
}

// SlowClose delays the end of stream (FIN) of a direction by Delay, so that
// the reader of that direction sees the peer hang up late, as Toxiproxy's
// slow_close toxic does. Data is not delayed. Several SlowClose toxics in one
// direction add up.
type SlowClose struct {
	Delay time.Duration // must be >= 0
}

// Slicer cuts the data of a direction into pieces of AverageSize ±
// SizeVariation bytes (uniformly drawn, at least 1), written one by one with
// Delay between them, as Toxiproxy's slicer toxic does to exercise a
// reader's handling of short reads. Several Slicer toxics in one direction:
// the smallest AverageSize wins.
type Slicer struct {
	AverageSize   int           // must be in [1, MaxSliceSize]
	SizeVariation int           // must be in [0, AverageSize]
	Delay         time.Duration // between pieces; must be >= 0
}

func (t Latency) kind() string   { return "latency" }
func (t Timeout) kind() string   { return "timeout" }
func (t SlowClose) kind() string { return "slow_close" }
func (t Slicer) kind() string    { return "slicer" }
func (t Bandwidth) kind() string { return "bandwidth" }
func (Blackhole) kind() string   { return "blackhole" }
func (t LimitData) kind() string { return "limit_data" }
func (t ResetPeer) kind() string { return "reset_peer" }

func (t Latency) validate() error {
	if t.Delay < 0 || t.Jitter < 0 {
		return fmt.Errorf("tcpproxy: latency %v ± %v: negative duration: %w", t.Delay, t.Jitter, ErrInvalidToxic)
	}
	if t.Jitter > t.Delay {
		return fmt.Errorf("tcpproxy: latency %v ± %v: jitter exceeds delay: %w", t.Delay, t.Jitter, ErrInvalidToxic)
	}
	return tooLong("latency", t.Delay)
}

func (t Bandwidth) validate() error {
	if t.BytesPerSecond <= 0 {
		return fmt.Errorf("tcpproxy: bandwidth %d B/s: must be positive: %w", t.BytesPerSecond, ErrInvalidToxic)
	}
	return nil
}

func (Blackhole) validate() error { return nil }

func (t LimitData) validate() error {
	if t.Bytes < 0 {
		return fmt.Errorf("tcpproxy: limit_data %d bytes: negative: %w", t.Bytes, ErrInvalidToxic)
	}
	return nil
}

func (t ResetPeer) validate() error {
	if t.After < 0 {
		return fmt.Errorf("tcpproxy: reset_peer after %v: negative: %w", t.After, ErrInvalidToxic)
	}
	return tooLong("reset_peer after", t.After)
}

func (t Timeout) validate() error {
	if t.After < 0 {
		return fmt.Errorf("tcpproxy: timeout after %v: negative: %w", t.After, ErrInvalidToxic)
	}
	return tooLong("timeout after", t.After)
}

func (t SlowClose) validate() error {
	if t.Delay < 0 {
		return fmt.Errorf("tcpproxy: slow_close %v: negative: %w", t.Delay, ErrInvalidToxic)
	}
	return tooLong("slow_close", t.Delay)
}

func (t Slicer) validate() error {
	switch {
	case t.AverageSize <= 0 || t.AverageSize > MaxSliceSize:
		return fmt.Errorf("tcpproxy: slicer average size %d: must be in [1, %d]: %w", t.AverageSize, MaxSliceSize, ErrInvalidToxic)
	case t.SizeVariation < 0 || t.SizeVariation > t.AverageSize:
		return fmt.Errorf("tcpproxy: slicer size variation %d: must be in [0, %d]: %w", t.SizeVariation, t.AverageSize, ErrInvalidToxic)
	case t.Delay < 0:
		return fmt.Errorf("tcpproxy: slicer delay %v: negative: %w", t.Delay, ErrInvalidToxic)
	}
	return tooLong("slicer delay", t.Delay)
}

// MaxDuration bounds every duration of a toxic (delays, jitters, timeouts),
// so that toxics summed or drawn around cannot overflow a time.Duration.
const MaxDuration = 100 * 24 * time.Hour

// MaxSliceSize bounds [Slicer.AverageSize].
const MaxSliceSize = 1 << 30

// tooLong reports the first of ds past MaxDuration as an error.
func tooLong(kind string, ds ...time.Duration) error {
	for _, d := range ds {
		if d > MaxDuration {
			return fmt.Errorf("tcpproxy: %s %v: longer than %v: %w", kind, d, MaxDuration, ErrInvalidToxic)
		}
	}
	return nil
}

// Errors returned by [Proxy] methods; compare with errors.Is.
var (
	// ErrInvalidToxic wraps every validation error of a toxic or direction.
	ErrInvalidToxic = errors.New("tcpproxy: invalid toxic")
	// ErrNoToxic is returned by [Proxy.Remove] for a name that is not set.
	ErrNoToxic = errors.New("tcpproxy: no such toxic")
	// ErrClosed is returned by methods called after [Proxy.Close].
	ErrClosed = errors.New("tcpproxy: proxy closed")
)

// Named is a toxic as set on a proxy, with its name, direction and
// toxicity.
type Named struct {
	Name      string
	Direction Direction
	Toxic     Toxic
	// Toxicity is the fraction of connections the toxic applies to, in
	// (0, 1]; 0 means 1. As in Toxiproxy, it is drawn once per connection
	// (and toxic), not per chunk: a connection is either poisoned or not.
	Toxicity float64
}

// dirToxics is the combined effect of the toxics of one direction, computed
// when the toxics change (or, with partial toxicity, when a connection first
// sees a change) so that the data path does no work per chunk beyond a few
// comparisons.
type dirToxics struct {
	delay, jitter time.Duration
	rate          int64 // bytes/s, 0 = unlimited
	blackhole     bool  // drop data (Blackhole or Timeout) and hold the FIN
	limit         int64 // -1 = none
	reset         bool
	resetAt       time.Time // when the reset toxic was set
	resetAfter    time.Duration
	timeout       bool      // close the connection at timeoutAt+timeoutAfter
	timeoutAt     time.Time // when the timeout toxic was set
	timeoutAfter  time.Duration
	slowClose     time.Duration // added before passing on the FIN
	slice         Slicer        // AverageSize 0 = no slicing
}

func (d *dirToxics) none() bool {
	return d.delay == 0 && d.rate == 0 && !d.blackhole && d.limit < 0 && d.slice.AverageSize == 0
}

// entry is a toxic in a snapshot with what the data path needs beyond Named.
type entry struct {
	Named
	since time.Time // when this toxic was set
	seed  uint64    // mixed with a connection's seed to draw toxicity
}

// snapshot is the immutable set of toxics of a proxy. changed is closed when
// a newer snapshot replaces this one, so goroutines waiting on a toxic (a
// held FIN, a reset timer) re-evaluate.
type snapshot struct {
	entries []entry
	dir     [2]dirToxics // [0] upstream, [1] downstream; valid if !partial
	partial bool         // some toxic has toxicity < 1: combine per connection
	changed chan struct{}
}

func newSnapshot(entries []entry) *snapshot {
	s := &snapshot{entries: entries, changed: make(chan struct{})}
	for _, e := range entries {
		if e.Toxicity < 1 {
			s.partial = true
		}
	}
	if !s.partial {
		s.dir = combine(entries, 0)
	}
	return s
}

// forConn returns the combined toxics that apply to a connection with the
// given seed.
func (s *snapshot) forConn(seed uint64) [2]dirToxics {
	if !s.partial {
		return s.dir
	}
	return combine(s.entries, seed)
}

// combine merges the toxics that apply to the connection with seed (all of
// them when seed is 0 and every toxicity is 1).
func combine(entries []entry, seed uint64) [2]dirToxics {
	var out [2]dirToxics
	for i := range out {
		out[i].limit = -1
	}
	for _, e := range entries {
		if e.Toxicity < 1 && roll(seed, e.seed) >= e.Toxicity {
			continue
		}
		for i, d := range [2]Direction{Upstream, Downstream} {
			if e.Direction&d == 0 {
				continue
			}
			dt := &out[i]
			switch t := e.Toxic.(type) {
			case Latency:
				dt.delay += t.Delay
				dt.jitter += t.Jitter
			case Bandwidth:
				if dt.rate == 0 || t.BytesPerSecond < dt.rate {
					dt.rate = t.BytesPerSecond
				}
			case Blackhole:
				dt.blackhole = true
			case LimitData:
				if dt.limit < 0 || t.Bytes < dt.limit {
					dt.limit = t.Bytes
				}
			case ResetPeer:
				if !dt.reset || e.since.Add(t.After).Before(dt.resetAt.Add(dt.resetAfter)) {
					dt.reset, dt.resetAfter, dt.resetAt = true, t.After, e.since
				}
			case Timeout:
				dt.blackhole = true
				if t.After > 0 && (!dt.timeout || e.since.Add(t.After).Before(dt.timeoutAt.Add(dt.timeoutAfter))) {
					dt.timeout, dt.timeoutAfter, dt.timeoutAt = true, t.After, e.since
				}
			case SlowClose:
				dt.slowClose += t.Delay
			case Slicer:
				if dt.slice.AverageSize == 0 || t.AverageSize < dt.slice.AverageSize {
					dt.slice = t
				}
			}
		}
	}
	return out
}

// roll maps a connection seed and a toxic seed to a uniform number in
// [0, 1) with SplitMix64's finaliser, so every goroutine of a connection
// draws the same number for the same toxic without sharing state.
func roll(a, b uint64) float64 {
	z := a ^ (b * 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// view caches the combined toxics of one connection for one goroutine,
// recomputing them only when the proxy's snapshot changes.
type view struct {
	snap *snapshot
	dir  [2]dirToxics
}

func (v *view) load(p *Proxy, seed uint64) (*snapshot, *[2]dirToxics) {
	s := p.toxics.Load()
	if s != v.snap {
		v.snap, v.dir = s, s.forConn(seed)
	}
	return s, &v.dir
}
