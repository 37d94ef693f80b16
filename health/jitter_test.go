package health

import (
	"testing"
	"time"
)

func TestJitter(t *testing.T) {
	for _, c := range []struct {
		name   string
		probe  ProbeConfig
		bound  time.Duration // jitter is in [0, bound)
		varies bool
	}{
		{"the default is a tenth of the interval", ProbeConfig{Interval: time.Second}, 100 * time.Millisecond, true},
		{"an explicit jitter", ProbeConfig{Interval: time.Second, Jitter: 300 * time.Millisecond}, 300 * time.Millisecond, true},
		{"a negative jitter turns it off", ProbeConfig{Interval: time.Second, Jitter: -1}, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := &Tracker{cfg: Config{Probe: c.probe}.withDefaults()}
			seen := map[time.Duration]bool{}
			for range 1000 {
				j := tr.jitter()
				if j < 0 || j >= c.bound {
					t.Fatalf("jitter() = %v, want in [0, %v)", j, c.bound)
				}
				seen[j] = true
			}
			if varies := len(seen) > 1; varies != c.varies {
				t.Fatalf("1000 jitters took %d distinct values; want varying: %v", len(seen), c.varies)
			}
		})
	}
}
