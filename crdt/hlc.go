package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// Timestamp is a hybrid logical clock reading (Kulkarni et al., "Logical
// Physical Clocks", OPODIS 2014) packed into 64 bits as the paper suggests:
// the upper 48 bits are wall time in milliseconds since the Unix epoch, the
// lower 16 bits a logical counter that orders events within one millisecond.
// Packing makes Timestamps compare with < and makes "the next logical tick"
// plain +1: a full counter carries into the millisecond, which keeps the
// clock monotonic at any event rate at the price of running ahead of
// physical time by at most one millisecond per 65,536 events.
//
// The zero Timestamp is before every reading of a [Clock].
type Timestamp uint64

const (
	logicalBits = 16
	logicalMask = 1<<logicalBits - 1
	maxWallMs   = 1<<(64-logicalBits) - 1
)

// MakeTimestamp returns the Timestamp for wall time wallMs (milliseconds since
// the Unix epoch) and logical counter logical. wallMs is clamped to the
// representable range [0, 2^48-1] (until the year 10889).
func MakeTimestamp(wallMs int64, logical uint16) Timestamp {
	if wallMs < 0 {
		wallMs = 0
	}
	if wallMs > maxWallMs {
		wallMs = maxWallMs
	}
	return Timestamp(uint64(wallMs)<<logicalBits | uint64(logical))
}

// WallMillis returns the wall-time part in milliseconds since the Unix epoch.
func (t Timestamp) WallMillis() int64 { return int64(t >> logicalBits) }

// Logical returns the logical counter.
func (t Timestamp) Logical() uint16 { return uint16(t & logicalMask) }

// Time returns the wall-time part as a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.WallMillis()).UTC() }

// String returns "wallMs.logical", for example "1764158400000.3".
func (t Timestamp) String() string {
	return strconv.FormatInt(t.WallMillis(), 10) + "." + strconv.Itoa(int(t.Logical()))
}

// AppendBinary appends the 8-byte big-endian form of t, the form to persist
// and restore with [Clock.Restore]. It never returns an error.
func (t Timestamp) AppendBinary(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(b, uint64(t)), nil
}

// ParseTimestamp decodes the 8-byte form written by [Timestamp.AppendBinary].
func ParseTimestamp(b []byte) (Timestamp, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("crdt: timestamp: %d bytes, want 8: %w", len(b), ErrMalformed)
	}
	return Timestamp(binary.BigEndian.Uint64(b)), nil
}

// DefaultMaxOffset is the largest amount a remote clock may run ahead of the
// local physical clock before [Clock.Update] refuses it. 500ms is the figure
// CockroachDB uses for the same bound; sites synchronised by NTP or chrony
// stay well inside it.
const DefaultMaxOffset = 500 * time.Millisecond

// ErrClockOffset is returned (wrapped in a *[ClockOffsetError]) by
// [Clock.Update] when a remote timestamp is further ahead of the local
// physical clock than the clock's maximum offset.
var ErrClockOffset = errors.New("crdt: remote clock too far ahead")

// ClockOffsetError reports a remote timestamp refused by [Clock.Update].
// It matches [ErrClockOffset] with errors.Is.
type ClockOffsetError struct {
	Remote    Timestamp     // the refused timestamp
	Physical  int64         // the local physical time, ms since the epoch
	MaxOffset time.Duration // the bound it exceeded
}

// Error says how far ahead the remote clock was.
func (e *ClockOffsetError) Error() string {
	ahead := time.Duration(e.Remote.WallMillis()-e.Physical) * time.Millisecond
	return fmt.Sprintf("crdt: remote clock %s is %v ahead of local physical time, more than max offset %v", e.Remote, ahead, e.MaxOffset)
}

// Unwrap returns [ErrClockOffset].
func (e *ClockOffsetError) Unwrap() error { return ErrClockOffset }

// Clock is a hybrid logical clock. Each reading is strictly greater than
// every earlier reading and every remote timestamp passed to Update, and
// stays within max offset of physical time while the sites' clocks do.
//
// HLC timestamps order writes for last-writer-wins registers and give a
// physical time for TTLs and garbage-collection horizons; causality between
// replicas is tracked by dots and version vectors, not by the clock.
//
// A Clock is safe for concurrent use; Now and Update do not block (they use a
// compare-and-swap loop, no mutex).
type Clock struct {
	physical  func() time.Time
	maxOffset time.Duration
	last      atomic.Uint64
}

// NewClock returns a Clock reading physical time from physical (nil means
// time.Now) that refuses remote timestamps more than maxOffset ahead
// (maxOffset <= 0 means [DefaultMaxOffset]). Tests pass a function they
// control.
func NewClock(physical func() time.Time, maxOffset time.Duration) *Clock {
	if physical == nil {
		physical = time.Now
	}
	if maxOffset <= 0 {
		maxOffset = DefaultMaxOffset
	}
	return &Clock{physical: physical, maxOffset: maxOffset}
}

func (c *Clock) physicalNow() Timestamp { return MakeTimestamp(c.physical().UnixMilli(), 0) }

// Now returns a new timestamp for a local event: the physical time if it is
// ahead of every timestamp seen so far, otherwise the last timestamp plus one
// logical tick.
func (c *Clock) Now() Timestamp {
	for {
		old := c.last.Load()
		next := uint64(c.physicalNow())
		if next <= old {
			next = old + 1
		}
		if c.last.CompareAndSwap(old, next) {
			return Timestamp(next)
		}
	}
}

// Update merges a timestamp received from another replica and returns a new
// local timestamp greater than both it and every earlier reading (the HLC
// receive rule). A remote timestamp more than the max offset ahead of the
// local physical clock is refused with a *[ClockOffsetError] and leaves the
// clock unchanged, so one site with a broken clock cannot drag the others
// into the future.
func (c *Clock) Update(remote Timestamp) (Timestamp, error) {
	pt := c.physicalNow()
	limit := pt.WallMillis() + c.maxOffset.Milliseconds()
	if remote.WallMillis() > limit {
		return 0, &ClockOffsetError{Remote: remote, Physical: pt.WallMillis(), MaxOffset: c.maxOffset}
	}
	for {
		old := c.last.Load()
		next := max(old, uint64(remote))
		if uint64(pt) > next {
			next = uint64(pt)
		} else {
			next++
		}
		if c.last.CompareAndSwap(old, next) {
			return Timestamp(next), nil
		}
	}
}

// Last returns the greatest timestamp issued or observed so far, without
// advancing the clock. Persist it (or every issued timestamp) and pass it to
// [Clock.Restore] after a restart.
func (c *Clock) Last() Timestamp { return Timestamp(c.last.Load()) }

// Restore makes every later reading greater than persisted: call it after a
// restart with the last persisted timestamp so that the clock stays monotonic
// even if the physical clock was stepped back while the process was down.
// It never moves the clock backwards.
func (c *Clock) Restore(persisted Timestamp) {
	for {
		old := c.last.Load()
		if uint64(persisted) <= old || c.last.CompareAndSwap(old, uint64(persisted)) {
			return
		}
	}
}
