package drill

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ok(at, lat time.Duration) Sample {
	return Sample{At: at, Latency: lat, Status: 200, By: "ctyun-1"}
}

func failed(at time.Duration, status int) Sample {
	return Sample{At: at, Latency: time.Millisecond, Status: status}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		samples []Sample
		want    Summary
	}{
		{"no samples succeed trivially", nil, Summary{SuccessRate: 1}},
		{"latencies are exact nearest-rank quantiles", []Sample{ok(0, 3*ms), ok(0, 1*ms), ok(0, 2*ms), ok(0, 4*ms)},
			Summary{Requests: 4, OK: 4, SuccessRate: 1, Avg: 2500 * time.Microsecond, P50: 2 * ms, P99: 4 * ms, P999: 4 * ms, Max: 4 * ms,
				ByCloud: map[string]int{"ctyun": 4}, CloudP99: map[string]time.Duration{"ctyun": 4 * ms}}},
		{"failures are counted by status and their latency kept", []Sample{ok(0, ms), failed(0, 503), {Latency: 5 * ms, Err: "reset"}, {Latency: -1, Dropped: true}},
			Summary{Requests: 4, OK: 1, Dropped: 1, SuccessRate: 0.25, Avg: 7 * ms / 3, P50: ms, P99: 5 * ms, P999: 5 * ms, Max: 5 * ms,
				ByCloud: map[string]int{"ctyun": 1}, CloudP99: map[string]time.Duration{"ctyun": ms}, Failures: map[string]int{"503": 1, "error": 1, "dropped": 1}}},
		{"answers are counted and timed by the cloud that gave them", []Sample{ok(0, ms), {Status: 200, Latency: 30 * ms, By: "ecloud-2"}},
			Summary{Requests: 2, OK: 2, SuccessRate: 1, Avg: 15500 * time.Microsecond, P50: ms, P99: 30 * ms, P999: 30 * ms, Max: 30 * ms,
				ByCloud: map[string]int{"ctyun": 1, "ecloud": 1}, CloudP99: map[string]time.Duration{"ctyun": ms, "ecloud": 30 * ms}}},
		{"redirects succeed, client errors fail", []Sample{{Status: 302, Latency: ms}, {Status: 404, Latency: ms}},
			Summary{Requests: 2, OK: 1, SuccessRate: 0.5, Avg: ms, P50: ms, P99: ms, P999: ms, Max: ms, Failures: map[string]int{"404": 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Summarize(tc.samples)); diff != "" {
				t.Errorf("Summarize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// run returns samples at rate 100 over d where those in [badFrom, badTo)
// fail.
func run(d, badFrom, badTo time.Duration) []Sample {
	var s []Sample
	for at := time.Duration(0); at < d; at += 10 * time.Millisecond {
		if at >= badFrom && at < badTo {
			s = append(s, failed(at, 502))
		} else {
			s = append(s, ok(at, time.Millisecond))
		}
	}
	return s
}

func TestTimeToRecover(t *testing.T) {
	sec := time.Second
	for _, tc := range []struct {
		name         string
		samples      []Sample
		fault, until time.Duration
		want         time.Duration
	}{
		{"no failure: recovered at once", run(10*sec, 0, 0), 2 * sec, 8 * sec, 0},
		{"failures for 300ms after the fault", run(10*sec, 2*sec, 2300*time.Millisecond), 2 * sec, 8 * sec, 300 * time.Millisecond},
		{"failing until the end: never", run(10*sec, 2*sec, 10*sec), 2 * sec, 8 * sec, -1},
		{"no whole window before until: never", run(10*sec, 0, 0), 2 * sec, 2500 * time.Millisecond, -1},
		{"one failure in a thousand is recovered", run(20*sec, 0, 0), 0, 20 * sec, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TimeToRecover(tc.samples, tc.fault, tc.until); got != tc.want {
				t.Errorf("TimeToRecover(fault %v, until %v) = %v, want %v", tc.fault, tc.until, got, tc.want)
			}
		})
	}
}

func TestTimeToLatency(t *testing.T) {
	s := run(10*time.Second, 0, 0)
	for i := range s {
		if s[i].At >= 3*time.Second && s[i].At < 4500*time.Millisecond {
			s[i].Latency = 50 * time.Millisecond
		}
	}
	// The window from 4.49s holds one slow request in a hundred: its p99
	// (nearest rank) is already fast.
	if got, want := TimeToLatency(s, 3*time.Second, 10*time.Second, 2*time.Millisecond), 1490*time.Millisecond; got != want {
		t.Errorf("TimeToLatency = %v, want %v", got, want)
	}
	if got := TimeToLatency(s, 3*time.Second, 10*time.Second, 0); got != -1 {
		t.Errorf("TimeToLatency below every latency = %v, want -1", got)
	}
}

func TestWindowsSplitTheRunBySecond(t *testing.T) {
	got := Windows(run(2500*time.Millisecond, 1*time.Second, 1100*time.Millisecond))
	want := []Window{
		{At: 0, Requests: 100, SuccessRate: 1, P50: time.Millisecond, P99: time.Millisecond, ByCloud: map[string]int{"ctyun": 100}},
		{At: time.Second, Requests: 100, SuccessRate: 0.9, P50: time.Millisecond, P99: time.Millisecond, ByCloud: map[string]int{"ctyun": 90}},
		{At: 2 * time.Second, Requests: 50, SuccessRate: 1, P50: time.Millisecond, P99: time.Millisecond, ByCloud: map[string]int{"ctyun": 50}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Windows mismatch (-want +got):\n%s", diff)
	}
}
