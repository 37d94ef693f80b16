package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// proxyRun makes the snapshots of a run of 8s polled every 20ms, 100 rps
// arriving at the proxies (two requests per poll): the faulty set takes
// share of them until stop, none after, and new connections follow the
// attempts after the fault starts (a blackhole kills every connection it
// swallows a request on). With connsOnly the requests are not counted, as
// through an admin API.
func proxyRun(share float64, stop time.Duration, connsOnly bool) []proxySnap {
	var out []proxySnap
	var f, a proxyCounts
	acc := 0.0
	for at := time.Duration(0); at <= 8*time.Second; at += pollInterval {
		a.requests += 2
		a.bytes += 2 * 200
		if at < stop {
			acc += 2 * share
			for acc >= 1 {
				acc--
				f.requests++
				f.bytes += 200
				if at > 2*time.Second {
					f.conns++
				}
			}
		}
		s := proxySnap{at: at, faulty: f, all: a}
		if connsOnly {
			s.faulty.requests, s.faulty.bytes, s.all = -1, -1, unknownCounts
		}
		out = append(out, s)
	}
	return out
}

func TestAnalyzeProxies(t *testing.T) {
	ms := time.Millisecond
	iv := interval{2 * time.Second, 6 * time.Second}
	for _, tc := range []struct {
		name  string
		snaps []proxySnap
		want  ProxyReport // without Buckets
	}{
		{
			"attempts stop 300ms into the fault",
			proxyRun(1, 2300*ms, false),
			// The window from 200ms holds 8 of 100 requests: below 10%.
			ProxyReport{Counted: "requests", LastAttempt: 280 * ms, LastConn: 280 * ms, TrafficLeft: 200 * ms, ShareBefore: 1, ShareFault: 28.0 / 400, ShareLate: 0},
		},
		{
			"attempts go on until the repair",
			proxyRun(1, 8*time.Second, false),
			ProxyReport{Counted: "requests", LastAttempt: 3980 * ms, LastConn: 3980 * ms, LateAttempts: 200, LateConns: 200, TrafficLeft: -1, ShareBefore: 1, ShareFault: 1, ShareLate: 1},
		},
		{
			"half the traffic stays: it never left",
			proxyRun(0.5, 8*time.Second, false),
			ProxyReport{Counted: "requests", LastAttempt: 3980 * ms, LastConn: 3980 * ms, LateAttempts: 100, LateConns: 100, TrafficLeft: -1, ShareBefore: 0.5, ShareFault: 0.5, ShareLate: 0.5},
		},
		{
			"through an admin API only connections are counted, and no share",
			proxyRun(1, 2500*ms, true),
			ProxyReport{Counted: "connections", LastAttempt: 480 * ms, LastConn: 480 * ms, TrafficLeft: -1, ShareBefore: -1, ShareFault: -1, ShareLate: -1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := analyzeProxies(tc.snaps, nil, 8*time.Second, iv)
			if len(got.Buckets) != 80 {
				t.Errorf("%d buckets, want 80 of 100ms in 8s", len(got.Buckets))
			}
			got.Buckets = nil
			approx := cmp.Comparer(func(a, b float64) bool { return a-b < 0.01 && b-a < 0.01 })
			if diff := cmp.Diff(tc.want, *got, approx); diff != "" {
				t.Errorf("analyzeProxies mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// No traffic anywhere is not traffic that left: the gateway has stopped
// sending, not moved elsewhere.
func TestTrafficLeftNeedsTrafficElsewhere(t *testing.T) {
	var snaps []proxySnap
	for at := time.Duration(0); at <= 8*time.Second; at += pollInterval {
		n := int64(min(at, 2*time.Second) / pollInterval)
		snaps = append(snaps, proxySnap{at: at, faulty: proxyCounts{requests: n}, all: proxyCounts{requests: n}})
	}
	if got := trafficLeft(snaps, interval{2 * time.Second, 6 * time.Second}); got != -1 {
		t.Errorf("trafficLeft with nothing arriving after the fault = %v, want -1", got)
	}
}

func TestBucketsCountWhatArrivedAndWhatClientsSaw(t *testing.T) {
	snaps := proxyRun(1, 2300*time.Millisecond, false)
	samples := run(8*time.Second, 2*time.Second, 2200*time.Millisecond)
	px := analyzeProxies(snaps, samples, 8*time.Second, interval{2 * time.Second, 6 * time.Second})
	ms := time.Millisecond
	want := []Bucket{
		{At: 1900 * ms, Sent: 10, OK: 10, Max: ms, FaultyRequests: 10, FaultyBytes: 2000, AllRequests: 10},
		{At: 2000 * ms, Sent: 10, OK: 0, Max: ms, FaultyConns: 10, FaultyRequests: 10, FaultyBytes: 2000, AllRequests: 10},
		{At: 2200 * ms, Sent: 10, OK: 10, Max: ms, FaultyConns: 8, FaultyRequests: 8, FaultyBytes: 1600, AllRequests: 10},
		{At: 2300 * ms, Sent: 10, OK: 10, Max: ms, AllRequests: 10},
	}
	var got []Bucket
	for _, b := range px.Buckets {
		if b.At == 1900*ms || b.At == 2000*ms || b.At == 2200*ms || b.At == 2300*ms {
			got = append(got, b)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("buckets around the fault mismatch (-want +got):\n%s", diff)
	}
}

func TestNetworkScenarioChecks(t *testing.T) {
	ms := time.Millisecond
	o := Options{Duration: 8 * time.Second}
	for _, tc := range []struct {
		name  string
		sc    Scenario
		snaps []proxySnap
		from  string // where the per-try timeout comes from
		want  []bool
	}{
		{"a blackhole left within 300ms meets every target", Blackhole, proxyRun(1, 2300*ms, false), TryTimeoutGateway, []bool{true, true, true}},
		{"attempts into the blackhole until the repair miss the attempt target", Blackhole, proxyRun(1, 8*time.Second, false), TryTimeoutBound, []bool{true, false, true}},
		{"without proxy counts the attempt target is not met", Blackhole, nil, TryTimeoutBound, []bool{true, false, true}},
		{"connections alone cannot show that no attempt arrived", Blackhole, proxyRun(1, 2300*ms, true), TryTimeoutBound, []bool{true, false, true}},
		{"a brownout left within 200ms meets its target", Brownout, proxyRun(1, 2300*ms, false), TryTimeoutBound, []bool{true}},
		{"a brownout that keeps half the traffic misses it", Brownout, proxyRun(0.5, 8*time.Second, false), TryTimeoutBound, []bool{false}},
		{"a brownout counted in connections cannot meet it", Brownout, proxyRun(1, 2300*ms, true), TryTimeoutBound, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sr := ScenarioReport{Name: tc.sc.Name, TryTimeout: time.Second, TryTimeoutFrom: tc.from}
			analyze(&sr, o, tc.sc, run(8*time.Second, 2*time.Second, 2200*ms), nil, tc.snaps, timeline(tc.sc, o.Duration))
			var got []bool
			for _, c := range sr.Checks {
				got = append(got, c.Pass)
			}
			if !cmp.Equal(got, tc.want) {
				t.Errorf("checks = %+v, want passes %v", sr.Checks, tc.want)
			}
			if tc.sc.Name == Blackhole.Name && sr.Fault.SuccessFrom2s != 1 {
				t.Errorf("SuccessFrom2s = %v, want 1 (failures only in the first 200ms)", sr.Fault.SuccessFrom2s)
			}
			if sr.Fault.OverTryTimeout != 20 {
				t.Errorf("OverTryTimeout = %d, want the 20 failed requests (the others take 1ms)", sr.Fault.OverTryTimeout)
			}
			bound := strings.Contains(sr.Checks[len(sr.Checks)-1].Target, "--per-try-timeout")
			if tc.sc.Name == Blackhole.Name && bound != (tc.from == TryTimeoutBound) {
				t.Errorf("p99 check target %q: says --per-try-timeout = %v, want %v", sr.Checks[2].Target, bound, tc.from == TryTimeoutBound)
			}
		})
	}
}

// The text and JSON reports show the time of the last attempt to the
// faulty set and the time until traffic left it, and the buckets around
// the fault.
func TestReportsShowTheSilentCloudFigures(t *testing.T) {
	o := Options{Duration: 8 * time.Second}
	sr := ScenarioReport{Name: Blackhole.Name, Row: Blackhole.Row, Title: Blackhole.Title, TryTimeout: 250 * time.Millisecond, TryTimeoutFrom: TryTimeoutGateway}
	analyze(&sr, o, Blackhole, run(8*time.Second, 2*time.Second, 2200*time.Millisecond), nil, proxyRun(1, 2300*time.Millisecond, false), timeline(Blackhole, o.Duration))
	rep := &Report{Rate: 100, Duration: o.Duration, Scenarios: []ScenarioReport{sr}}
	var sum, md, js strings.Builder
	if err := rep.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, text string
		want       []string
	}{
		// No gateway counters were read: their columns say so.
		{"summary", sum.String(), []string{"| n/a | 200ms | n/a |", "| last attempt to the faulty set |", "| time until traffic left (share < 10%) |", "| blackhole | 280ms | 0 | 280ms | 0 | 200ms | 100.0% / 7.0% / 0.0% |"}},
		{"markdown", md.String(), []string{"the gateway's attempt counters were not read", "the last attempt (request) reached the faulty set 280ms after the fault", "traffic left it (share < 10%) after 200ms", "| +0.0s | 10 | 0 | 1.00ms | 10 | 10 | 2000 | 10 | 100.0% |", "| -1.0s |"}},
		{"JSON", js.String(), []string{`"last_attempt_ns": 280000000`, `"traffic_left_ns": 200000000`, `"buckets": [`, `"try_timeout_from": "gateway"`}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.text, w) {
				t.Errorf("%s lacks %q:\n%s", c.what, w, c.text)
			}
		}
	}
}
