package drill

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// failoverReport analyzes a synthetic failover run of 8s at 100 rps: the
// fault from 2s to 6s fails requests for 200ms, attempts to the faulty
// instances stop 100ms in, and one request in two is retried meanwhile.
func failoverReport(t *testing.T) ScenarioReport {
	t.Helper()
	o := Options{Duration: 8 * time.Second}
	samples := run(8*time.Second, 2*time.Second, 2200*time.Millisecond)
	var snaps []attemptSnap
	var total, faulty float64
	for at := time.Duration(0); at <= 8*time.Second; at += pollInterval {
		total += 2 // 100 rps: two requests per 20ms
		if at >= 2*time.Second && at < 2100*time.Millisecond {
			total++
			faulty++
		}
		snaps = append(snaps, attemptSnap{at: at, faulty: faulty, total: total})
	}
	sr := ScenarioReport{Name: Failover.Name, Row: Failover.Row, Title: Failover.Title, TryTimeout: time.Second}
	analyze(&sr, o, Failover, samples, snaps, nil, timeline(Failover, o.Duration))
	return sr
}

func TestAnalyzeMeasuresTheFault(t *testing.T) {
	sr := failoverReport(t)
	if got := []string{sr.Phases[0].Name, sr.Phases[1].Name, sr.Phases[2].Name}; !cmp.Equal(got, []string{"before", "fault", "after"}) {
		t.Fatalf("phases = %v, want before, fault, after", got)
	}
	fault, _ := sr.Phase("fault")
	if fault.Requests != 400 || fault.OK != 380 || fault.Failures["502"] != 20 {
		t.Errorf("fault phase = %d requests, %d ok, failures %v; want 400, 380, 502×20", fault.Requests, fault.OK, fault.Failures)
	}
	f := sr.Fault
	if f.TimeToRecover != 200*time.Millisecond {
		t.Errorf("TimeToRecover = %v, want 200ms", f.TimeToRecover)
	}
	if f.TimeToNoAttempts != 80*time.Millisecond || f.FaultyAttempts != 5 {
		t.Errorf("TimeToNoAttempts = %v after %v attempts, want 80ms (the last 20ms poll that saw one) after 5", f.TimeToNoAttempts, f.FaultyAttempts)
	}
	// The poll at 2s already counts the first retry: the phase sees four.
	if got, want := fault.AttemptsPerRequest, 404.0/400; got != want {
		t.Errorf("fault AttemptsPerRequest = %v, want %v", got, want)
	}
	var pass []bool
	for _, c := range sr.Checks {
		pass = append(pass, c.Pass)
	}
	// 95% success misses the 99.99% target; recovery and p99 meet theirs.
	if !cmp.Equal(pass, []bool{false, true, true}) {
		t.Errorf("checks = %+v, want success failed, recovery and p99 passed", sr.Checks)
	}
}

func TestReportRendersAsJSONMarkdownAndSummary(t *testing.T) {
	rep := &Report{Started: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Rate: 100, Duration: 8 * time.Second,
		Host: Host{OS: "linux", Arch: "arm64", CPUs: 2}, Scenarios: []ScenarioReport{failoverReport(t)}}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("the JSON report does not decode: %v", err)
	}
	if diff := cmp.Diff(rep, &back); diff != "" {
		t.Errorf("JSON round trip mismatch (-want +got):\n%s", diff)
	}
	var md, sum bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## (b) failover:",
		"| fault | 2s–6s | 400 | 95.000% | 502×20 |",
		"time to recover 200ms",
		"| failover | success during failover | ≥ 99.99% | 95.000% | FAIL |",
		"per-second windows",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown report lacks %q:\n%s", want, md.String())
		}
	}
	if !strings.Contains(sum.String(), "| b | failover | fault | 400 | 95.000% | 502×20 |") || strings.Contains(sum.String(), "per-second") {
		t.Errorf("summary should hold the phase lines and not the windows:\n%s", sum.String())
	}
	if rep.Passed() {
		t.Error("Passed() = true with a failed check")
	}
}
