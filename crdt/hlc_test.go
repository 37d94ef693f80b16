package crdt_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
)

// manualClock is a physical clock the test sets by hand.
type manualClock struct {
	mu sync.Mutex
	ms int64
}

func (m *manualClock) now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return time.UnixMilli(m.ms)
}

func (m *manualClock) set(ms int64) {
	m.mu.Lock()
	m.ms = ms
	m.mu.Unlock()
}

func TestClockNow(t *testing.T) {
	ts := crdt.MakeTimestamp
	tests := []struct {
		name     string
		physical []int64 // physical time before each Now
		want     []crdt.Timestamp
	}{
		{"follows physical time when it advances", []int64{1000, 1001, 1005}, []crdt.Timestamp{ts(1000, 0), ts(1001, 0), ts(1005, 0)}},
		{"ticks the logical counter within one millisecond", []int64{1000, 1000, 1000}, []crdt.Timestamp{ts(1000, 0), ts(1000, 1), ts(1000, 2)}},
		{"never goes back when physical time steps back", []int64{1000, 900, 950, 1001}, []crdt.Timestamp{ts(1000, 0), ts(1000, 1), ts(1000, 2), ts(1001, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pc manualClock
			c := crdt.NewClock(pc.now, 0)
			for i, p := range tt.physical {
				pc.set(p)
				if got := c.Now(); got != tt.want[i] {
					t.Errorf("Now() #%d at physical %d = %v, want %v", i, p, got, tt.want[i])
				}
			}
		})
	}
}

func TestClockNowCarriesFullLogicalCounterIntoWallTime(t *testing.T) {
	var pc manualClock
	pc.set(1000)
	c := crdt.NewClock(pc.now, 0)
	c.Restore(crdt.MakeTimestamp(1000, 0xffff))
	if got, want := c.Now(), crdt.MakeTimestamp(1001, 0); got != want {
		t.Errorf("Now() after logical 0xffff = %v, want %v", got, want)
	}
}

func TestClockUpdate(t *testing.T) {
	ts := crdt.MakeTimestamp
	tests := []struct {
		name     string
		last     crdt.Timestamp // clock state before
		physical int64
		remote   crdt.Timestamp
		want     crdt.Timestamp
		wantErr  error
	}{
		{"physical time ahead of both wins with counter 0", ts(1000, 5), 2000, ts(1500, 9), ts(2000, 0), nil},
		{"remote ahead of local and physical ticks past remote", ts(1000, 5), 1000, ts(1200, 9), ts(1200, 10), nil},
		{"local ahead of remote ticks past local", ts(1300, 2), 1000, ts(1200, 9), ts(1300, 3), nil},
		{"equal wall times tick past the larger counter", ts(1200, 2), 1000, ts(1200, 9), ts(1200, 10), nil},
		{"remote exactly max offset ahead is accepted", 0, 1000, ts(1500, 0), ts(1500, 1), nil},
		{"remote beyond max offset is refused", ts(1000, 1), 1000, ts(1501, 0), 0, crdt.ErrClockOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pc manualClock
			pc.set(tt.physical)
			c := crdt.NewClock(pc.now, 500*time.Millisecond)
			c.Restore(tt.last)
			got, err := c.Update(tt.remote)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update(%v) error = %v, want %v", tt.remote, err, tt.wantErr)
			}
			if err != nil {
				var oe *crdt.ClockOffsetError
				if !errors.As(err, &oe) || oe.Remote != tt.remote || oe.MaxOffset != 500*time.Millisecond {
					t.Errorf("Update(%v) error = %#v, want *ClockOffsetError for it", tt.remote, err)
				}
				if c.Last() != tt.last {
					t.Errorf("refused Update moved the clock to %v, want it left at %v", c.Last(), tt.last)
				}
				return
			}
			if got != tt.want {
				t.Errorf("Update(%v) = %v, want %v", tt.remote, got, tt.want)
			}
		})
	}
}

func TestClockRestoreKeepsMonotonicAcrossRestart(t *testing.T) {
	var pc manualClock
	pc.set(5000)
	before := crdt.NewClock(pc.now, 0)
	var last crdt.Timestamp
	for range 3 {
		last = before.Now()
	}
	persisted, _ := last.AppendBinary(nil)

	// The process restarts and the physical clock was stepped back 2s.
	pc.set(3000)
	after := crdt.NewClock(pc.now, 0)
	restored, err := crdt.ParseTimestamp(persisted)
	if err != nil {
		t.Fatalf("ParseTimestamp(%x) = %v", persisted, err)
	}
	after.Restore(restored)
	after.Restore(crdt.MakeTimestamp(10, 0)) // an older value must not move it back
	if got := after.Now(); got <= last {
		t.Errorf("Now() after restart = %v, want > %v issued before", got, last)
	}
}

func TestParseTimestampRejectsWrongLength(t *testing.T) {
	for _, n := range []int{0, 7, 9} {
		if _, err := crdt.ParseTimestamp(make([]byte, n)); !errors.Is(err, crdt.ErrMalformed) {
			t.Errorf("ParseTimestamp(%d bytes) error = %v, want ErrMalformed", n, err)
		}
	}
}

func TestTimestampParts(t *testing.T) {
	ts := crdt.MakeTimestamp(1764158400123, 7)
	if ts.WallMillis() != 1764158400123 || ts.Logical() != 7 {
		t.Errorf("MakeTimestamp(1764158400123, 7) parts = %d, %d", ts.WallMillis(), ts.Logical())
	}
	if got, want := ts.Time(), time.UnixMilli(1764158400123).UTC(); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
	if got := ts.String(); got != "1764158400123.7" {
		t.Errorf("String() = %q, want %q", got, "1764158400123.7")
	}
	if got := crdt.MakeTimestamp(-5, 1); got.WallMillis() != 0 {
		t.Errorf("MakeTimestamp(-5, 1).WallMillis() = %d, want clamped to 0", got.WallMillis())
	}
}

func TestClockNowIsUniqueUnderConcurrency(t *testing.T) {
	var pc manualClock
	pc.set(1000)
	c := crdt.NewClock(pc.now, 0)
	const workers, each = 4, 2000
	out := make([][]crdt.Timestamp, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				out[w] = append(out[w], c.Now())
			}
		})
	}
	wg.Wait()
	seen := make(map[crdt.Timestamp]bool)
	for w := range out {
		for i, ts := range out[w] {
			if seen[ts] {
				t.Fatalf("timestamp %v issued twice", ts)
			}
			seen[ts] = true
			if i > 0 && ts <= out[w][i-1] {
				t.Fatalf("worker %d: %v after %v, want increasing", w, ts, out[w][i-1])
			}
		}
	}
}
