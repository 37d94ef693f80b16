package crdt_test

import (
	"errors"
	"math"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

func TestPNCounterTryAddRefusesOverflow(t *testing.T) {
	tests := []struct {
		name    string
		before  []int64 // added by siteA, with Add
		add     int64
		want    int64 // the value after, when accepted
		refused bool
	}{
		{"max then +1", []int64{math.MaxInt64}, 1, 0, true},
		{"max then -1", []int64{math.MaxInt64}, -1, math.MaxInt64 - 1, false},
		{"min then -1", []int64{math.MinInt64}, -1, 0, true},
		{"min then +1", []int64{math.MinInt64}, 1, math.MinInt64 + 1, false},
		{"max then min", []int64{math.MaxInt64}, math.MinInt64, -1, false},
		{"zero then max", nil, math.MaxInt64, math.MaxInt64, false},
		{"zero then min", nil, math.MinInt64, math.MinInt64, false},
		// Increments and decrements of one replica each count up to
		// 2^64-1; past that they would saturate and lose count.
		{"increments past 2^64-1", []int64{math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64}, 2, 0, true},
		{"decrements past 2^64-1", []int64{math.MinInt64, math.MaxInt64, math.MinInt64, math.MaxInt64}, -3, 0, true},
		{"adding zero", []int64{math.MaxInt64}, 0, math.MaxInt64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c crdt.PNCounter
			for _, n := range tt.before {
				c.Add(siteA, n)
			}
			before := c.Digest()
			d, err := c.TryAdd(siteA, tt.add)
			if tt.refused {
				if !errors.Is(err, crdt.ErrOverflow) {
					t.Fatalf("TryAdd(%d) after %v = %v, want ErrOverflow", tt.add, tt.before, err)
				}
				if c.Digest() != before {
					t.Fatalf("a refused TryAdd changed the counter")
				}
				return
			}
			if err != nil {
				t.Fatalf("TryAdd(%d) after %v = %v, want nil", tt.add, tt.before, err)
			}
			if got := c.Value(); got != tt.want || c.Saturated() {
				t.Fatalf("Value() after TryAdd(%d) = %d (saturated %v), want %d", tt.add, got, c.Saturated(), tt.want)
			}
			var other crdt.PNCounter
			other.Merge(d)
			if other.Value() != tt.add {
				t.Fatalf("delta of TryAdd(%d) merged into an empty counter = %d", tt.add, other.Value())
			}
		})
	}
}

// Each replica stays in range, but the merged sum does not: the value
// saturates and says so, and comes back exactly once back in range.
func TestPNCounterMergedOverflowSaturates(t *testing.T) {
	sites := []crdt.ReplicaID{siteA, siteB, 3}
	var merged crdt.PNCounter
	for _, r := range sites {
		var c crdt.PNCounter
		if _, err := c.TryAdd(r, math.MaxInt64); err != nil {
			t.Fatalf("TryAdd(MaxInt64) on an empty counter: %v", err)
		}
		merged.Merge(&c)
	}
	if got := merged.Value(); got != math.MaxInt64 || !merged.Saturated() {
		t.Fatalf("3 × MaxInt64 merged = %d (saturated %v), want MaxInt64, saturated", got, merged.Saturated())
	}
	if _, err := merged.TryAdd(siteA, 1); !errors.Is(err, crdt.ErrOverflow) {
		t.Fatalf("TryAdd(+1) on a saturated counter = %v, want ErrOverflow", err)
	}
	// Still above the range after a large decrement: refused too.
	if _, err := merged.TryAdd(siteA, math.MinInt64); !errors.Is(err, crdt.ErrOverflow) {
		t.Fatalf("TryAdd(MinInt64) leaving 2×MaxInt64-1: %v, want ErrOverflow", err)
	}
	// Decrements at two sites bring it back: exact again.
	for _, r := range sites[1:] {
		var c crdt.PNCounter
		c.Add(r, math.MinInt64)
		merged.Merge(&c)
	}
	if got := merged.Value(); got != math.MaxInt64-2 || merged.Saturated() {
		t.Fatalf("after two decrements of MinInt64 = %d (saturated %v), want MaxInt64-2", got, merged.Saturated())
	}

	var low crdt.PNCounter
	for _, r := range sites {
		var c crdt.PNCounter
		c.Add(r, math.MinInt64)
		low.Merge(&c)
	}
	if got := low.Value(); got != math.MinInt64 || !low.Saturated() {
		t.Fatalf("3 × MinInt64 merged = %d (saturated %v), want MinInt64, saturated", got, low.Saturated())
	}
}
