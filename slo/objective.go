package slo

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Alert is one multiwindow burn-rate alert: it fires while the error ratio
// over both the long and the short window is above Burn × (1 − target), the
// error budget burning Burn times faster than the period allows. The short
// window (usually a twelfth of the long one) makes the alert stop soon after
// the burn does.
type Alert struct {
	Severity string        `json:"severity"` // page or ticket, or any name
	Long     time.Duration `json:"long"`
	Short    time.Duration `json:"short"`
	Burn     float64       `json:"burn"`
}

// DefaultAlerts are the SRE Workbook's alerts for a 30-day objective (table
// 5-8): page when 2% of the budget goes in an hour (14.4×) or 5% in six
// hours (6×), ticket when 10% goes in three days (1×).
var DefaultAlerts = []Alert{
	{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Burn: 14.4},
	{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, Burn: 6},
	{Severity: "ticket", Long: 3 * 24 * time.Hour, Short: 6 * time.Hour, Burn: 1},
}

// Objective is a service level objective: the share of good events wanted
// over a period, and the alerts on its error budget. The zero Period means
// [DefaultPeriod] and nil Alerts mean [DefaultAlerts]; Target has no
// default.
type Objective struct {
	Target float64       // share of good events, 0 < Target < 1, e.g. 0.999
	Period time.Duration // of the error budget; 0 means 30 days
	Alerts []Alert       // nil means DefaultAlerts; empty (non-nil) means none
}

// ErrObjective is wrapped by the errors of [Objective.Validate].
var ErrObjective = errors.New("slo: invalid objective")

// period returns o.Period or its default.
func (o Objective) period() time.Duration {
	if o.Period <= 0 {
		return DefaultPeriod
	}
	return o.Period
}

func (o Objective) alerts() []Alert {
	if o.Alerts == nil {
		return DefaultAlerts
	}
	return o.Alerts
}

// Validate reports what is wrong with o: the target outside (0, 1), a
// period shorter than an hour, or an alert whose windows are not positive,
// not in order or longer than the period, or whose burn is not positive
// (such an alert could never fire, or always would).
func (o Objective) Validate() error {
	if !(o.Target > 0 && o.Target < 1) {
		return fmt.Errorf("%w: target %v: must be above 0 and below 1 (0.999 for 99.9%%)", ErrObjective, o.Target)
	}
	p := o.period()
	if p < time.Hour {
		return fmt.Errorf("%w: period %v: must be at least 1h", ErrObjective, p)
	}
	for i, a := range o.alerts() {
		switch {
		case a.Severity == "":
			return fmt.Errorf("%w: alerts[%d]: no severity", ErrObjective, i)
		case a.Short < time.Minute:
			return fmt.Errorf("%w: alerts[%d]: short window %v: must be at least 1m", ErrObjective, i, a.Short)
		case a.Long <= a.Short:
			return fmt.Errorf("%w: alerts[%d]: long window %v must be longer than the short window %v", ErrObjective, i, a.Long, a.Short)
		case a.Long > p:
			return fmt.Errorf("%w: alerts[%d]: long window %v is longer than the period %v", ErrObjective, i, a.Long, p)
		case !(a.Burn > 0):
			return fmt.Errorf("%w: alerts[%d]: burn %v: must be above 0", ErrObjective, i, a.Burn)
		case a.Burn*(1-o.Target) >= 1:
			return fmt.Errorf("%w: alerts[%d]: burn %v × error budget %.6g is 100%% or more of the events: the alert could never fire", ErrObjective, i, a.Burn, 1-o.Target)
		}
	}
	return nil
}

// Windows returns the distinct windows o's alerts look at, shortest first.
func (o Objective) Windows() []time.Duration {
	var ws []time.Duration
	for _, a := range o.alerts() {
		ws = append(ws, a.Short, a.Long)
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// Burn is the burn rate of the error budget over one window.
type Burn struct {
	Window time.Duration `json:"window"`
	Events Events        `json:"events"`
	// Rate is the error ratio over the window divided by the error
	// budget (1 − target): 1 spends exactly the budget over the period.
	Rate float64 `json:"rate"`
}

// Report is an objective's state at one time.
type Report struct {
	Target float64       `json:"target"`
	Period time.Duration `json:"period"`
	// Events over the period (as far back as the counters go).
	Events Events `json:"events"`
	// BudgetRemaining is 1 − the period's error ratio ÷ (1 − target): 1
	// with no bad event, 0 when the budget is spent, below 0 when it is
	// overspent.
	BudgetRemaining float64 `json:"budget_remaining"`
	Burns           []Burn  `json:"burns"`  // per window of Objective.Windows
	Firing          []Alert `json:"firing"` // the alerts firing, in the objective's order
}

// BurnRate returns the burn rate of events e against target: their error
// ratio over the error budget 1 − target; 0 when there are no events.
func BurnRate(e Events, target float64) float64 {
	return e.ErrorRatio() / (1 - target)
}

// Evaluate returns o's state at t from the events of src. o must be valid
// ([Objective.Validate]). An alert fires when the error ratio over both its
// windows is strictly above Burn × (1 − Target), as the generated
// Prometheus rules compare (docs/observability.md); a window without
// events never fires.
func (o Objective) Evaluate(src Source, t time.Time) Report {
	r := Report{Target: o.Target, Period: o.period()}
	r.Events = src.Window(t, r.Period)
	r.BudgetRemaining = 1 - BurnRate(r.Events, o.Target)
	ratio := map[time.Duration]float64{}
	for _, w := range o.Windows() {
		e := src.Window(t, w)
		r.Burns = append(r.Burns, Burn{Window: w, Events: e, Rate: BurnRate(e, o.Target)})
		ratio[w] = e.ErrorRatio()
	}
	budget := 1 - o.Target
	for _, a := range o.alerts() {
		th := a.Burn * budget
		if ratio[a.Long] > th && ratio[a.Short] > th {
			r.Firing = append(r.Firing, a)
		}
	}
	return r
}
