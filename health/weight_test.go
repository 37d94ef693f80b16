package health

import (
	"math"
	"testing"
	"time"
)

func TestDynamicWeight(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name       string
		configured uint32
		lat, ref   time.Duration
		sr         float64
		cfg        WeightConfig
		want       uint32
	}{
		{"an unmeasured instance keeps its configured weight", 100, 0, 0, 1, WeightConfig{}, 100},
		{"at the reference latency the weight is configured", 100, 10 * ms, 10 * ms, 1, WeightConfig{}, 100},
		{"faster than the reference is not rewarded above configured", 100, 5 * ms, 10 * ms, 1, WeightConfig{}, 100},
		{"twice as slow keeps half", 100, 20 * ms, 10 * ms, 1, WeightConfig{}, 50},
		{"ten times slower keeps a tenth", 100, 100 * ms, 10 * ms, 1, WeightConfig{}, 10},
		{"a hundred times slower keeps the 5% floor", 100, time.Second, 10 * ms, 1, WeightConfig{}, 5},
		{"success rate 0.9 with k=2 keeps 81%", 100, 0, 0, 0.9, WeightConfig{}, 81},
		{"success rate 0 keeps the floor", 100, 0, 0, 0, WeightConfig{}, 5},
		{"latency and success rate multiply", 100, 20 * ms, 10 * ms, 0.9, WeightConfig{}, 41},
		{"latency exponent 2 squares the latency factor", 100, 20 * ms, 10 * ms, 1, WeightConfig{LatencyExponent: 2}, 25},
		{"a negative latency exponent ignores latency", 100, 100 * ms, 10 * ms, 1, WeightConfig{LatencyExponent: -1}, 100},
		{"success exponent 1 is linear", 100, 0, 0, 0.5, WeightConfig{SuccessExponent: 1}, 50},
		{"a custom floor", 100, 0, 0, 0, WeightConfig{MinFactor: 0.2}, 20},
		{"a drained instance stays at 0", 0, 0, 0, 1, WeightConfig{}, 0},
		{"a weight of 1 never drops to 0", 1, time.Second, ms, 0, WeightConfig{}, 1},
		{"a NaN success rate counts as 0", 100, 0, 0, math.NaN(), WeightConfig{}, 5},
		{"a success rate above 1 counts as 1", 100, 0, 0, 1.5, WeightConfig{}, 100},
		{"the full uint32 range does not overflow", math.MaxUint32, 0, 0, 1, WeightConfig{}, math.MaxUint32},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := DynamicWeight(c.configured, c.lat, c.ref, c.sr, c.cfg)
			if got != c.want {
				t.Errorf("DynamicWeight(%d, %v, %v, %v, %+v) = %d, want %d", c.configured, c.lat, c.ref, c.sr, c.cfg, got, c.want)
			}
		})
	}
}

func FuzzDynamicWeight(f *testing.F) {
	f.Add(uint32(100), int64(20e6), int64(10e6), 0.9, 0.0, 0.0, 0.0)
	f.Add(uint32(1), int64(1e9), int64(1e6), 0.0, 2.0, 1.0, 0.2)
	f.Add(uint32(0), int64(0), int64(0), 1.0, 0.0, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, configured uint32, lat, ref int64, sr, le, se, floor float64) {
		c := WeightConfig{LatencyExponent: le, SuccessExponent: se, MinFactor: floor}
		if (Config{Weight: c}).Validate() != nil {
			return
		}
		w := DynamicWeight(configured, time.Duration(lat), time.Duration(ref), sr, c)
		switch {
		case w > configured:
			t.Fatalf("weight %d above configured %d", w, configured)
		case configured > 0 && w == 0:
			t.Fatalf("configured %d dropped to weight 0", configured)
		case configured == 0 && w != 0:
			t.Fatalf("drained instance got weight %d", w)
		}
		// Slower never weighs more.
		if lat > 0 && lat < math.MaxInt64/2 {
			if w2 := DynamicWeight(configured, time.Duration(2*lat), time.Duration(ref), sr, c); w2 > w {
				t.Fatalf("latency %v weighs %d, twice as slow weighs more: %d", time.Duration(lat), w, w2)
			}
		}
	})
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"zeros are unmeasured", []time.Duration{0, 0}, 0},
		{"odd count", []time.Duration{3, 1, 2}, 2},
		{"even count averages the middle two", []time.Duration{4, 1, 3, 2}, 2},
		{"one slow instance does not move the median", []time.Duration{1, 1, 1, 1, 100}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _ := median(c.in, nil); got != c.want {
				t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}

func TestPeakEWMA(t *testing.T) {
	for _, c := range []struct {
		name                string
		avg, x, alpha       float64
		higherWorse, seeded bool
		want                float64
	}{
		{"the first sample sets the average", 0, 7, 0.5, true, false, 7},
		{"a higher latency replaces the average at once", 10, 50, 0.1, true, true, 50},
		{"a lower latency moves it by alpha", 50, 10, 0.25, true, true, 40},
		{"a lower success rate replaces the average at once", 1, 0.2, 0.1, false, true, 0.2},
		{"a higher success rate moves it by alpha", 0.2, 1, 0.5, false, true, 0.6},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := peakEWMA(c.avg, c.x, c.alpha, c.higherWorse, c.seeded); math.Abs(got-c.want) > 1e-9 {
				t.Errorf("peakEWMA(%v, %v, %v, %v, %v) = %v, want %v", c.avg, c.x, c.alpha, c.higherWorse, c.seeded, got, c.want)
			}
		})
	}
}

func TestSignificant(t *testing.T) {
	for _, c := range []struct {
		old, new uint32
		want     bool
	}{
		{100, 100, false}, {100, 109, false}, {100, 91, false}, {100, 111, true},
		{100, 89, true}, {0, 1, true}, {1, 0, true}, {5, 6, true},
	} {
		if got := significant(c.old, c.new); got != c.want {
			t.Errorf("significant(%d, %d) = %v, want %v", c.old, c.new, got, c.want)
		}
	}
}
