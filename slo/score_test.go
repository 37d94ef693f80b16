package slo_test

import (
	"math"
	"testing"
	"time"

	"github.com/duohuo/duohuo/slo"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScore(t *testing.T) {
	var def slo.ScoreConfig
	tests := []struct {
		name string
		cfg  slo.ScoreConfig
		in   slo.Inputs
		want float64
	}{
		{"no inputs: nothing says unhealthy", def, slo.Inputs{}, 1},
		{"a clean service", def, slo.Inputs{Availability: slo.Value(0), Latency: slo.Value(0), Drift: slo.Value(0)}, 1},
		{"burning at the page rate zeroes availability", def, slo.Inputs{Availability: slo.Value(14.4), Latency: slo.Value(0), Drift: slo.Value(0)}, 0.6 / 0.8},
		{"burns beyond MaxBurn count as MaxBurn", def, slo.Inputs{Availability: slo.Value(1000), Latency: slo.Value(1000), Drift: slo.Value(0)}, 0.4 / 0.8},
		{"a P99 1.5x the best cloud's halves the drift part", def, slo.Inputs{Drift: slo.Value(0.5)}, 0.5},
		{"replica lag up to MaxLag scores 1, then falls to 0 at twice it", slo.ScoreConfig{MaxLag: 2 * time.Second}, slo.Inputs{ReplicaLag: slo.Value(3)}, 0.5},
		{"a zero weight leaves its input out", slo.ScoreConfig{Weights: slo.Weights{Availability: 1}}, slo.Inputs{Availability: slo.Value(7.2), Drift: slo.Value(1)}, 0.5},
		{"lease success is taken as it is", def, slo.Inputs{Lease: slo.Value(0.9)}, 0.9},
		{"NaN inputs count as 0", def, slo.Inputs{Lease: slo.Value(math.NaN())}, 0},
	}
	for _, tt := range tests {
		if got := tt.cfg.Score(tt.in); !near(got.Value, tt.want) {
			t.Errorf("%s: Score(%+v).Value = %v, want %v", tt.name, tt.in, got.Value, tt.want)
		}
	}
}

// With the design's three inputs and weights, the score is the design's
// formula plus 0.2, for any inputs.
func TestScoreMatchesTheDesignFormula(t *testing.T) {
	design := func(leaseOK, drift, errRate float64) float64 {
		c := func(v float64) float64 { return math.Min(math.Max(v, 0), 1) }
		return 0.4*c(leaseOK) + 0.4*(1-c(drift)) - 0.2*c(errRate)
	}
	for _, l := range []float64{0, 0.5, 0.99, 1} {
		for _, d := range []float64{0, 0.3, 1, 2} {
			for _, e := range []float64{0, 0.1, 1} {
				s := slo.ScoreConfig{}.Score(slo.Inputs{Lease: slo.Value(l), Drift: slo.Value(d), Availability: slo.Value(e * 14.4)})
				// Weights 0.4 + 0.4 + 0.2 sum to 1: no renormalising.
				if want := design(l, d, e) + 0.2; !near(s.Value, want) {
					t.Errorf("lease %v, drift %v, errors %v: score %v, want the design's %v + 0.2", l, d, e, s.Value, want-0.2)
				}
			}
		}
	}
}

func TestDrift(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		p, best time.Duration
		want    float64
	}{
		{120 * ms, 100 * ms, 0.2},
		{100 * ms, 100 * ms, 0},
		{80 * ms, 100 * ms, 0},
		{100 * ms, 0, 0},
		{300 * ms, 100 * ms, 2},
	} {
		if got := slo.Drift(tt.p, tt.best); !near(got, tt.want) {
			t.Errorf("Drift(%v, %v) = %v, want %v", tt.p, tt.best, got, tt.want)
		}
	}
}
