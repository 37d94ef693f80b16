package slo_test

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/duohuo/duohuo/slo"
)

// burn records one minute of traffic per call: 1000 events, bad of them
// bad, spread over the minute.
func burn(c *slo.Counter, minutes, bad int) {
	for range minutes {
		for i := range 1000 {
			c.Record(i >= bad)
		}
		time.Sleep(time.Minute)
	}
}

func severities(r slo.Report) []string {
	var s []string
	for _, a := range r.Firing {
		s = append(s, a.Severity+"/"+a.Long.String())
	}
	return s
}

// windows is a Source with fixed error ratios per window, each over
// 1e6 events.
type windows map[time.Duration]float64

func (w windows) Window(_ time.Time, d time.Duration) slo.Events {
	bad := uint64(w[d] * 1e6)
	return slo.Events{Good: 1e6 - bad, Total: 1e6}
}

// The Workbook's alerts against a 99.9% objective, each pair at the edge
// of firing.
func TestObjectiveAlerts(t *testing.T) {
	obj := slo.Objective{Target: 0.999}
	h, m := time.Hour, time.Minute
	tests := []struct {
		name string
		src  windows
		want []string
	}{
		{"no errors, no alerts", windows{}, nil},
		{"1h and 5m above 14.4x page", windows{5 * m: 0.0145, h: 0.0145}, []string{"page/1h0m0s"}},
		{"1h above 14.4x with a clean 5m does not page: the burn is over", windows{5 * m: 0, h: 0.05}, nil},
		{"5m above 14.4x with 1h below does not page: a blip", windows{5 * m: 0.5, h: 0.0143}, nil},
		{"exactly 14.4x does not page: the comparison is strict", windows{5 * m: 0.0144, h: 0.0144}, nil},
		{"6h and 30m above 6x page", windows{30 * m: 0.0061, 6 * h: 0.0061}, []string{"page/6h0m0s"}},
		{"3d and 6h above 1x make a ticket", windows{6 * h: 0.0011, 72 * h: 0.0011}, []string{"ticket/72h0m0s"}},
		{"a hard burn fires all three", windows{5 * m: 0.1, 30 * m: 0.1, h: 0.1, 6 * h: 0.1, 72 * h: 0.1}, []string{"page/1h0m0s", "page/6h0m0s", "ticket/72h0m0s"}},
	}
	for _, tt := range tests {
		r := obj.Evaluate(tt.src, base)
		if got := severities(r); !slices.Equal(got, tt.want) {
			t.Errorf("%s: firing %v, want %v (burns %+v)", tt.name, got, tt.want, r.Burns)
		}
	}
}

// A 50x burn after an hour of clean traffic pages within 20 minutes, and
// the fast page stops once the short window is clean again, although the
// long window still burns: the point of the short window.
func TestObjectivePageResetsWithTheShortWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obj := slo.Objective{Target: 0.999}
		c := slo.NewCounter(0)
		burn(c, 60, 0)
		burn(c, 20, 50)
		if got := severities(obj.Evaluate(c, time.Now())); !slices.Contains(got, "page/1h0m0s") {
			t.Fatalf("after 20 minutes of a 50x burn: firing %v, want the fast page", got)
		}
		burn(c, 6, 0)
		r := obj.Evaluate(c, time.Now())
		if got := severities(r); slices.Contains(got, "page/1h0m0s") {
			t.Errorf("6 clean minutes later: firing %v, want the fast page over", got)
		}
		if r.Burns[2].Window != time.Hour || r.Burns[2].Rate < 14.4 {
			t.Errorf("the 1h window should still burn above 14.4x: %+v", r.Burns[2])
		}
	})
}

func TestObjectiveBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obj := slo.Objective{Target: 0.99}
		c := slo.NewCounter(0)
		burn(c, 10, 5) // 0.5% errors: half the budget
		r := obj.Evaluate(c, time.Now())
		if r.Events.Total != 10000 || r.Events.Bad() != 50 {
			t.Fatalf("period events %+v, want 10000 with 50 bad", r.Events)
		}
		if d := r.BudgetRemaining - 0.5; d > 1e-12 || d < -1e-12 {
			t.Errorf("BudgetRemaining = %v, want 0.5", r.BudgetRemaining)
		}
		burn(c, 10, 30) // 3%: overspent
		if r := obj.Evaluate(c, time.Now()); r.BudgetRemaining >= 0 {
			t.Errorf("after a 3%% burn, BudgetRemaining = %v, want below 0", r.BudgetRemaining)
		}
		if got, want := obj.Windows(), []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 72 * time.Hour}; !slices.Equal(got, want) {
			t.Errorf("Windows() = %v, want %v", got, want)
		}
	})
}

func TestObjectiveValidate(t *testing.T) {
	tests := []struct {
		name string
		obj  slo.Objective
		ok   bool
	}{
		{"the defaults with a target", slo.Objective{Target: 0.999}, true},
		{"no target", slo.Objective{}, false},
		{"a target of 1 leaves no budget", slo.Objective{Target: 1}, false},
		{"a 2-day period is shorter than the ticket's 3d window", slo.Objective{Target: 0.999, Period: 48 * time.Hour}, false},
		{"a 2-day period with its own alerts", slo.Objective{Target: 0.999, Period: 48 * time.Hour, Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Burn: 14.4}}}, true},
		{"no alerts at all", slo.Objective{Target: 0.999, Alerts: []slo.Alert{}}, true},
		{"a short window longer than the long one", slo.Objective{Target: 0.999, Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: 2 * time.Hour, Burn: 2}}}, false},
		{"a burn that could never fire at a 50% target", slo.Objective{Target: 0.5, Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Burn: 14.4}}}, false},
		{"no severity", slo.Objective{Target: 0.999, Alerts: []slo.Alert{{Long: time.Hour, Short: 5 * time.Minute, Burn: 14.4}}}, false},
		{"a zero burn", slo.Objective{Target: 0.999, Alerts: []slo.Alert{{Severity: "page", Long: time.Hour, Short: 5 * time.Minute}}}, false},
	}
	for _, tt := range tests {
		err := tt.obj.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, slo.ErrObjective) {
			t.Errorf("%s: Validate() = %v, not an ErrObjective", tt.name, err)
		}
	}
}
