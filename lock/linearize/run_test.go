package linearize_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/duohuo/duohuo/lock/linearize"
)

// runsPerFault is 1 in CI; DUOHUO_LOCK_LONG=N runs N per fault (the target
// is 30) and reports the rates.
func runsPerFault(t *testing.T) int {
	if s := os.Getenv("DUOHUO_LOCK_LONG"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("DUOHUO_LOCK_LONG=%q: want a positive number of runs", s)
		}
		return n
	}
	return 1
}

func runOnce(t *testing.T, subject linearize.Subject, fault string, d time.Duration) linearize.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d+2*time.Minute)
	defer cancel()
	res, err := linearize.Run(ctx, clusterEnv(), subject, linearize.Faults[fault], linearize.Config{
		Duration:      d,
		TTL:           time.Second,
		VisualizeDir:  t.TempDir(),
		ClientCommand: clientCommand,
	})
	if err != nil {
		t.Fatalf("Run(%s, %s): %v", subject.Name, fault, err)
	}
	if err := cluster.Heal(); err != nil {
		t.Fatalf("Heal after %s: %v", fault, err)
	}
	t.Logf("%s under %s: mutex %s, register %s; %d acquires, %d writes, %d refused, %d lost, %d unknown, %d pauses, %d failed; check %v; fault err %v",
		subject.Name, fault, res.Mutex, res.Register, res.Acquires, res.Writes, res.Refused, res.Lost, res.Unknown, res.Pauses, res.Failed, res.Check, res.FaultErr)
	return res
}

func TestEtcdlockWithFencingIsLinearizableUnderEachFault(t *testing.T) {
	n := runsPerFault(t)
	for _, fault := range linearize.FaultNames() {
		t.Run(fault, func(t *testing.T) {
			for i := range n {
				res := runOnce(t, linearize.Etcdlock, fault, 4*time.Second)
				if !res.Linearizable() {
					t.Errorf("run %d (seed %x): mutex %s, register %s; visualisations %v", i, res.Seed, res.Mutex, res.Register, res.Visualizations)
				}
				if res.Acquires == 0 {
					t.Errorf("run %d: no lock acquired: the run checked nothing", i)
				}
				if linearize.Faults[fault].Pauses && (res.Pauses == 0 || res.Lost == 0) {
					t.Errorf("run %d: %d pauses, %d locks lost: the pause fault did not outlast a lease", i, res.Pauses, res.Lost)
				}
				if res.FaultErr != nil {
					t.Errorf("run %d: fault injection: %v", i, res.FaultErr)
				}
			}
		})
	}
}

// TestUnsafeControlsAreCaught is the proof that the checker bites: locks
// without fencing lose updates under pauses, and the naive lock even without
// faults.
func TestUnsafeControlsAreCaught(t *testing.T) {
	tests := []struct {
		subject linearize.Subject
		fault   string
	}{
		{linearize.TTLOnly, "pause"},
		{linearize.GetThenPut, "pause"},
		{linearize.TTLOnly, "sigstop"},
	}
	n := runsPerFault(t)
	for _, tt := range tests {
		t.Run(tt.subject.Name+"/"+tt.fault, func(t *testing.T) {
			caught := 0
			for range n {
				res := runOnce(t, tt.subject, tt.fault, 4*time.Second)
				if !res.Linearizable() {
					caught++
					if len(res.Visualizations) == 0 {
						t.Errorf("a failing history left no visualisation")
					}
				}
			}
			if n == 1 && caught == 0 {
				// CI runs once. On a starved machine a run can end without
				// any pause outlasting a lease while others work (repeated
				// elections extend leases); long mode measured 29 of 30
				// caught. One retry keeps CI meaningful without flaking.
				t.Logf("not caught in the one CI run; retrying once")
				if res := runOnce(t, tt.subject, tt.fault, 4*time.Second); !res.Linearizable() {
					caught = 1
				}
			}
			t.Logf("%s under %s: caught in %d of %d runs", tt.subject.Name, tt.fault, caught, n)
			if float64(caught) < 0.9*float64(n) {
				t.Errorf("%s under %s: caught in %d of %d runs, want >= 90%%", tt.subject.Name, tt.fault, caught, n)
			}
		})
	}
}
