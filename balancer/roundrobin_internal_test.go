package balancer

import (
	"slices"
	"testing"
)

func TestSmoothSequence(t *testing.T) {
	tests := []struct {
		name    string
		weights []uint32
		limit   int
		want    []int32
	}{
		// The example in nginx's ngx_http_upstream_get_peer comment.
		{"nginx's example 5,1,1 interleaves as a a b a c a a", []uint32{5, 1, 1}, maxSequence, []int32{0, 0, 1, 0, 2, 0, 0}},
		{"equal weights alternate", []uint32{100, 100, 100}, maxSequence, []int32{0, 1, 2}},
		{"common divisor is removed", []uint32{200, 100}, maxSequence, []int32{0, 1, 0}},
		{"single instance repeats itself", []uint32{7}, maxSequence, []int32{0}},
		{"weights scaled to fit the limit keep their ratio", []uint32{3000, 1000}, 4, []int32{0, 0, 1, 0}},
		{"scaling keeps every instance at least once", []uint32{1_000_000, 1}, 8, []int32{0, 0, 0, 0, 1, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := smoothSequence(tc.weights, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("smoothSequence(%v, %d) = %v, want %v", tc.weights, tc.limit, got, tc.want)
			}
		})
	}
}

// TestSmoothSequenceCounts checks the defining property: over one cycle each
// member appears exactly its (reduced) weight times.
func TestSmoothSequenceCounts(t *testing.T) {
	weights := []uint32{1, 2, 3, 5, 8, 13, 21, 34}
	seq := smoothSequence(weights, maxSequence)
	count := make([]uint32, len(weights))
	for _, m := range seq {
		count[m]++
	}
	if !slices.Equal(count, weights) {
		t.Errorf("smoothSequence(%v): counts %v, want %v", weights, count, weights)
	}
}

func TestSmoothSequenceIsBounded(t *testing.T) {
	weights := make([]uint32, 300)
	for i := range weights {
		weights[i] = uint32(1000 + i) // no common divisor: Σ ≈ 345k
	}
	seq := smoothSequence(weights, maxSequence)
	if len(seq) > maxSequence+len(weights) {
		t.Fatalf("len(smoothSequence) = %d, want at most %d", len(seq), maxSequence+len(weights))
	}
	count := make([]int, len(weights))
	for _, m := range seq {
		count[m]++
	}
	for i, c := range count {
		if c == 0 {
			t.Fatalf("member %d (weight %d) never appears", i, weights[i])
		}
	}
}

func TestAliasTableIsExact(t *testing.T) {
	// The probability of member i is Σ over columns of the share that lands
	// on i, divided by n; it must equal w[i]/Σw.
	for _, weights := range [][]uint32{{1}, {1, 1}, {1, 2, 3, 4}, {100, 1, 1, 1, 1}, {0xffffffff, 1, 7}} {
		prob, alias := aliasTable(weights)
		n := float64(len(weights))
		got := make([]float64, len(weights))
		for col := range prob {
			keep := float64(prob[col]) / (1 << 32)
			got[col] += keep / n
			got[alias[col]] += (1 - keep) / n
		}
		var total float64
		for _, w := range weights {
			total += float64(w)
		}
		for i, w := range weights {
			if want := float64(w) / total; abs(got[i]-want) > 1e-6 {
				t.Errorf("aliasTable(%v): member %d has probability %v, want %v", weights, i, got[i], want)
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
