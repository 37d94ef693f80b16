package drill

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func scenarioNames(ss []Scenario) []string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return n
}

var parseCases = []struct {
	name, in string
	want     []string
	err      error
}{
	{"all is every scenario in order", "all", []string{"steady", "failover", "mixed", "slow", "errors", "flap", "blackhole", "brownout"}, nil},
	{"the network scenarios go by their letters too", "h,g", []string{"blackhole", "brownout"}, nil},
	{"names and letters mix, in the built-in order", "slow, b,A", []string{"steady", "failover", "slow"}, nil},
	{"duplicates count once", "failover,b,failover", []string{"failover"}, nil},
	{"an unknown name is refused", "failover,meltdown", nil, ErrUnknownScenario},
	{"an empty list is refused", " , ", nil, ErrUnknownScenario},
}

func TestParseScenarios(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScenarios(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseScenarios(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if diff := cmp.Diff(tc.want, scenarioNames(got)); diff != "" {
				t.Errorf("ParseScenarios(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func FuzzParseScenarios(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseScenarios(in)
		if err != nil {
			if !errors.Is(err, ErrUnknownScenario) || got != nil {
				t.Fatalf("ParseScenarios(%q) = %v, %v: want nil and ErrUnknownScenario", in, got, err)
			}
			return
		}
		// What it returns, named again, parses to itself.
		again, err := ParseScenarios(strings.Join(scenarioNames(got), ","))
		if err != nil || !cmp.Equal(scenarioNames(again), scenarioNames(got)) {
			t.Fatalf("ParseScenarios(%q) = %v, which parses again to %v, %v", in, scenarioNames(got), scenarioNames(again), err)
		}
	})
}

func TestTimeline(t *testing.T) {
	sec := time.Second
	for _, tc := range []struct {
		name string
		sc   Scenario
		d    time.Duration
		want []interval
	}{
		{"no fault, no interval", Steady, 20 * sec, nil},
		{"a fault is on for the middle half", Failover, 20 * sec, []interval{{5 * sec, 15 * sec}}},
		{"a flap alternates within the middle half", Flap, 20 * sec, []interval{{5 * sec, 7 * sec}, {9 * sec, 11 * sec}, {13 * sec, 15 * sec}}},
		{"the last flap is cut at the repair", Flap, 12 * sec, []interval{{3 * sec, 5 * sec}, {7 * sec, 9 * sec}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := timeline(tc.sc, tc.d)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(interval{})); diff != "" {
				t.Errorf("timeline(%s, %v) mismatch (-want +got):\n%s", tc.sc.Name, tc.d, diff)
			}
		})
	}
}

func TestLastAttempt(t *testing.T) {
	ms := time.Millisecond
	snaps := func(faulty ...float64) []attemptSnap {
		var s []attemptSnap
		for i, f := range faulty {
			s = append(s, attemptSnap{at: time.Duration(i) * 100 * ms, faulty: f})
		}
		return s
	}
	iv := interval{down: 200 * ms, up: 1000 * ms}
	for _, tc := range []struct {
		name  string
		snaps []attemptSnap
		last  time.Duration
		n     float64
	}{
		{"attempts stop 200ms after the fault", snaps(5, 5, 5, 8, 9, 9, 9, 9, 9, 9, 9), 200 * ms, 4},
		{"no attempt after the fault", snaps(5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5), 0, 0},
		{"a late attempt is the last one", snaps(5, 5, 5, 6, 6, 6, 6, 6, 7, 7, 7), 600 * ms, 2},
		{"attempts up to the repair: never stopped", snaps(5, 5, 5, 6, 6, 6, 6, 6, 7, 8, 9), -1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			last, n := lastAttempt(tc.snaps, iv)
			if last != tc.last || n != tc.n {
				t.Errorf("lastAttempt = %v, %v; want %v, %v", last, n, tc.last, tc.n)
			}
		})
	}
}
