package gateway

// Prometheus rules and a Grafana dashboard for the configured objectives,
// made from the gateway's own series (metrics.go). The recording rules and
// alerts use Sloth's names and labels (slo:sli_error:ratio_rate5m, …,
// sloth_id, sloth_service, sloth_slo, sloth_window), so that dashboards
// made for Sloth's rules work on them.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/slo"
)

// RuleFile is a Prometheus rule file.
type RuleFile struct {
	Groups []RuleGroup `yaml:"groups"`
}

// RuleGroup is a group of Prometheus rules.
type RuleGroup struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is a recording rule (Record) or an alerting rule (Alert).
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// num writes a number of the rules: 12 significant digits, so that 1 −
// 0.999 reads 0.001.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 12, 64) }

// leMatcher matches the le label of bucket b as Prometheus 2 (le="1") and
// 3 (le="1.0") store it.
func leMatcher(b float64) string {
	s := strconv.FormatFloat(b, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		return `le=~"` + s + `(\\.0)?"`
	}
	return `le="` + s + `"`
}

// sloSpec is one objective of one service, as the rules see it.
type sloSpec struct {
	service, name string // name: availability or latency
	obj           slo.Objective
	errors, total string // PromQL with WINDOW for the range
}

func (s sloSpec) id() string { return s.service + "-" + s.name }

func (s sloSpec) labels() map[string]string {
	return map[string]string{"sloth_id": s.id(), "sloth_service": s.service, "sloth_slo": s.name}
}

func (s sloSpec) selector() string {
	return fmt.Sprintf(`sloth_id=%q, sloth_service=%q, sloth_slo=%q`, s.id(), s.service, s.name)
}

// SLORules returns the Prometheus recording and alerting rules of cfg's
// objectives (its slo section, or the defaults when it has none), one set
// per service, as a rule file in YAML. It fails when the latency threshold
// is not a bound of duohuo_request_duration_seconds, whose buckets the
// latency rules count.
func SLORules(cfg *config.Config) ([]byte, error) {
	rf, err := sloRuleFile(cfg)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# Prometheus rules for duohuo's service level objectives, made by `duohuo slo rules`\n" +
		"# (docs/observability.md). Recording rules and alerts use Sloth's names.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(rf); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sloSection(cfg *config.Config) (*config.SLO, error) {
	if cfg.SLO != nil {
		return cfg.SLO, nil
	}
	d, err := config.Parse("defaults", []byte("slo: {}\n"))
	if err != nil {
		return nil, err
	}
	return d.SLO, nil
}

func sloRuleFile(cfg *config.Config) (*RuleFile, error) {
	sec, err := sloSection(cfg)
	if err != nil {
		return nil, err
	}
	threshold := time.Duration(sec.LatencyThreshold)
	le := threshold.Seconds()
	if threshold > 0 && !slices.Contains(requestDurationBuckets, le) {
		var bs []string
		for _, b := range requestDurationBuckets {
			bs = append(bs, (time.Duration(b * float64(time.Second))).String())
		}
		return nil, fmt.Errorf("slo.latency_threshold %v is not a bucket bound of duohuo_request_duration_seconds, whose buckets the latency rules count: choose one of %s", threshold, strings.Join(bs, ", "))
	}
	rf := &RuleFile{}
	for _, svc := range cfg.Services {
		q := fmt.Sprintf(`service=%q`, svc.Name)
		specs := []sloSpec{{
			service: svc.Name, name: "availability", obj: sec.Availability(),
			errors: `sum(rate(duohuo_requests_total{` + q + `, code=~"5xx|none"}[WINDOW]))`,
			total:  `sum(rate(duohuo_requests_total{` + q + `}[WINDOW]))`,
		}}
		if threshold > 0 {
			specs = append(specs, sloSpec{
				service: svc.Name, name: "latency", obj: sec.Latency(),
				errors: `(sum(rate(duohuo_request_duration_seconds_count{` + q + `}[WINDOW])) - sum(rate(duohuo_request_duration_seconds_bucket{` + q + `, ` + leMatcher(le) + `}[WINDOW])))`,
				total:  `sum(rate(duohuo_request_duration_seconds_count{` + q + `}[WINDOW]))`,
			})
		}
		for _, s := range specs {
			rf.Groups = append(rf.Groups, s.groups()...)
		}
	}
	rf.Groups = append(rf.Groups, driftGroup(time.Duration(sec.Score.Window)))
	return rf, nil
}

// groups returns Sloth's three groups for s: the SLI per window, the
// meta recordings, the alerts.
func (s sloSpec) groups() []RuleGroup {
	period := s.obj.Period
	if period <= 0 {
		period = slo.DefaultPeriod
	}
	windows := s.obj.Windows()
	if !slices.Contains(windows, 5*time.Minute) {
		windows = append([]time.Duration{5 * time.Minute}, windows...) // the current burn rate's
	}
	sli := RuleGroup{Name: "sloth-slo-sli-recordings-" + s.id()}
	for _, w := range windows {
		pw := promDuration(w)
		l := s.labels()
		l["sloth_window"] = pw
		sli.Rules = append(sli.Rules, Rule{
			Record: "slo:sli_error:ratio_rate" + pw,
			Expr:   "(" + strings.ReplaceAll(s.errors, "WINDOW", pw) + ")\n/\n(" + strings.ReplaceAll(s.total, "WINDOW", pw) + ")\n",
			Labels: l,
		})
	}
	// The period's ratio is the mean of the 5m ratios, as Sloth makes it:
	// a rate over 30 days would read every sample of the period at each
	// evaluation.
	pp := promDuration(period)
	l := s.labels()
	l["sloth_window"] = pp
	sli.Rules = append(sli.Rules, Rule{
		Record: "slo:sli_error:ratio_rate" + pp,
		Expr: fmt.Sprintf("sum_over_time(slo:sli_error:ratio_rate5m{%s}[%s])\n/ ignoring (sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{%s}[%s])\n",
			s.selector(), pp, s.selector(), pp),
		Labels: l,
	})

	budget := 1 - s.obj.Target
	on := "on(sloth_id, sloth_slo, sloth_service) group_left"
	meta := RuleGroup{Name: "sloth-slo-meta-recordings-" + s.id(), Rules: []Rule{
		{Record: "slo:objective:ratio", Expr: "vector(" + num(s.obj.Target) + ")", Labels: s.labels()},
		{Record: "slo:error_budget:ratio", Expr: "vector(1 - " + num(s.obj.Target) + ")", Labels: s.labels()},
		{Record: "slo:time_period:days", Expr: "vector(" + num(period.Hours()/24) + ")", Labels: s.labels()},
		{Record: "slo:current_burn_rate:ratio", Expr: fmt.Sprintf("slo:sli_error:ratio_rate5m{%s}\n/ %s\nslo:error_budget:ratio{%s}\n", s.selector(), on, s.selector()), Labels: s.labels()},
		{Record: "slo:period_burn_rate:ratio", Expr: fmt.Sprintf("slo:sli_error:ratio_rate%s{%s}\n/ %s\nslo:error_budget:ratio{%s}\n", pp, s.selector(), on, s.selector()), Labels: s.labels()},
		{Record: "slo:period_error_budget_remaining:ratio", Expr: fmt.Sprintf("1 - slo:period_burn_rate:ratio{%s}", s.selector()), Labels: s.labels()},
	}}
	info := s.labels()
	info["sloth_mode"] = "duohuo"
	info["sloth_objective"] = num(100 * s.obj.Target)
	meta.Rules = append(meta.Rules, Rule{Record: "sloth_slo_info", Expr: "vector(1)", Labels: info})

	alerts := RuleGroup{Name: "sloth-slo-alerts-" + s.id()}
	alerting := s.obj.Alerts
	if alerting == nil {
		alerting = slo.DefaultAlerts
	}
	bySeverity := map[string][]string{}
	var order []string
	for _, a := range alerting {
		th := "(" + num(a.Burn) + " * " + num(budget) + ")"
		pair := fmt.Sprintf("(\n    max(slo:sli_error:ratio_rate%s{%s} > %s) without (sloth_window)\n    and\n    max(slo:sli_error:ratio_rate%s{%s} > %s) without (sloth_window)\n)",
			promDuration(a.Short), s.selector(), th, promDuration(a.Long), s.selector(), th)
		if _, ok := bySeverity[a.Severity]; !ok {
			order = append(order, a.Severity)
		}
		bySeverity[a.Severity] = append(bySeverity[a.Severity], pair)
	}
	name := "Duohuo" + strings.ToUpper(s.name[:1]) + s.name[1:] + "BudgetBurn"
	for _, sev := range order {
		l := s.labels()
		l["severity"] = sev
		l["sloth_severity"] = sev
		alerts.Rules = append(alerts.Rules, Rule{
			Alert:  name,
			Expr:   strings.Join(bySeverity[sev], "\nor\n") + "\n",
			Labels: l,
			Annotations: map[string]string{
				"title":   fmt.Sprintf("(%s) %s %s SLO error budget burn rate is too fast.", sev, s.service, s.name),
				"summary": fmt.Sprintf("{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over the expected (%s objective %s).", s.name, num(100*s.obj.Target)+"%"),
			},
		})
	}
	return []RuleGroup{sli, meta, alerts}
}

// driftGroup records the P99 per service and cloud over the score's
// window, and its drift against the service's best cloud, as the health
// score defines it.
func driftGroup(window time.Duration) RuleGroup {
	w := promDuration(window)
	p99 := "duohuo:request_duration_seconds:p99_rate" + w
	best := "min by (service) (" + p99 + ")"
	return RuleGroup{Name: "duohuo-slo-drift", Rules: []Rule{
		{Record: p99, Expr: `histogram_quantile(0.99, sum by (service, cloud, le) (rate(duohuo_request_duration_seconds_bucket{service!="", cloud!="none"}[` + w + `])))`},
		{Record: "duohuo:request_duration_seconds:p99_drift_ratio" + w, Expr: "(" + p99 + " - on(service) group_left " + best + ")\n/ on(service) group_left\n" + best + "\n"},
	}}
}

// SLODashboard returns a Grafana dashboard (JSON) for the gateway: rate,
// errors and duration per route and per cloud, breakers, ejections, gray
// lanes, replica lag, SLO burn rates, budgets and health scores.
func SLODashboard(cfg *config.Config) ([]byte, error) {
	if _, err := sloRuleFile(cfg); err != nil {
		return nil, err
	}
	sec, err := sloSection(cfg)
	if err != nil {
		return nil, err
	}
	d := dashboard(promDuration(time.Duration(sec.Score.Window)))
	return json.MarshalIndent(d, "", "  ")
}

// A Grafana dashboard, as much of its model as this one uses.
type grafanaDashboard struct {
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	Tags          []string       `json:"tags"`
	SchemaVersion int            `json:"schemaVersion"`
	Version       int            `json:"version"`
	Editable      bool           `json:"editable"`
	Refresh       string         `json:"refresh"`
	Time          map[string]any `json:"time"`
	Templating    map[string]any `json:"templating"`
	Panels        []panel        `json:"panels"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	GridPos     map[string]int `json:"gridPos"`
	Datasource  map[string]any `json:"datasource,omitempty"`
	Targets     []target       `json:"targets,omitempty"`
	FieldConfig map[string]any `json:"fieldConfig,omitempty"`
}

type target struct {
	RefID        string         `json:"refId"`
	Expr         string         `json:"expr"`
	LegendFormat string         `json:"legendFormat"`
	Datasource   map[string]any `json:"datasource"`
}

// grafanaSchemaVersion is the dashboard model version written (Grafana 10
// and 11 read it and upgrade older ones).
const grafanaSchemaVersion = 39

func dashboard(window string) grafanaDashboard {
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	d := grafanaDashboard{
		UID: "duohuo-gateway", Title: "duohuo gateway", Tags: []string{"duohuo", "slo"},
		SchemaVersion: grafanaSchemaVersion, Version: 1, Editable: true, Refresh: "30s",
		Time: map[string]any{"from": "now-6h", "to": "now"},
		Templating: map[string]any{"list": []any{
			map[string]any{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
			map[string]any{"name": "service", "type": "query", "datasource": ds, "label": "Service",
				"query":      map[string]any{"query": "label_values(duohuo_requests_total, service)", "refId": "service"},
				"definition": "label_values(duohuo_requests_total, service)",
				"multi":      true, "includeAll": true, "allValue": ".*", "refresh": 2},
		}},
	}
	sel := `service=~"$service"`
	rows := []struct {
		title, desc, unit string
		exprs             [][2]string // expr, legend
	}{
		{"Requests per route", "Rate of answered requests.", "reqps", [][2]string{{`sum by (route) (rate(duohuo_requests_total{` + sel + `}[$__rate_interval]))`, "{{route}}"}}},
		{"Errors per route", "Share of answers that are 5xx or none at all.", "percentunit", [][2]string{{`sum by (route) (rate(duohuo_requests_total{` + sel + `, code=~"5xx|none"}[$__rate_interval])) / sum by (route) (rate(duohuo_requests_total{` + sel + `}[$__rate_interval]))`, "{{route}}"}}},
		{"P99 duration per route", "99th percentile of the request duration, body included.", "s", [][2]string{{`histogram_quantile(0.99, sum by (route, le) (rate(duohuo_request_duration_seconds_bucket{` + sel + `}[$__rate_interval])))`, "{{route}}"}}},
		{"Requests per cloud", "By the cloud of the instance that answered (none: no instance did).", "reqps", [][2]string{{`sum by (cloud) (rate(duohuo_requests_total{` + sel + `}[$__rate_interval]))`, "{{cloud}}"}}},
		{"Errors per cloud", "Share of 5xx answers per cloud.", "percentunit", [][2]string{{`sum by (cloud) (rate(duohuo_requests_total{` + sel + `, code=~"5xx|none"}[$__rate_interval])) / sum by (cloud) (rate(duohuo_requests_total{` + sel + `}[$__rate_interval]))`, "{{cloud}}"}}},
		{"P99 duration per cloud", "The cross-cloud P99 drift's input.", "s", [][2]string{{`histogram_quantile(0.99, sum by (cloud, le) (rate(duohuo_request_duration_seconds_bucket{` + sel + `}[$__rate_interval])))`, "{{cloud}}"}}},
		{"Upstream attempts by result", "Attempts sent to instances: success, gateway_failure, server_error, client_error, client_fault, canceled.", "reqps", [][2]string{{`sum by (result) (rate(duohuo_upstream_attempts_total{` + sel + `}[$__rate_interval]))`, "{{result}}"}}},
		{"Breaker transitions", "Circuit breaker state changes by kind and state entered.", "short", [][2]string{{`sum by (kind, to) (increase(duohuo_breaker_transitions_total[$__rate_interval]))`, "{{kind}} → {{to}}"}}},
		{"Ejections", "Instances taken out by health checking.", "short", [][2]string{{`sum by (service) (increase(duohuo_ejections_total{` + sel + `}[$__rate_interval]))`, "{{service}}"}}},
		{"Healthy instances per tier", "", "short", [][2]string{{`sum by (service, locality) (duohuo_healthy_instances{` + sel + `})`, "{{service}} {{locality}}"}}},
		{"Gray lanes", "Requests of gray routes by lane, and fallbacks to the baseline.", "reqps", [][2]string{
			{`sum by (route, subset) (rate(duohuo_gray_requests_total[$__rate_interval]))`, "{{route}} {{subset}}"},
			{`sum by (route, from) (rate(duohuo_gray_fallbacks_total[$__rate_interval]))`, "fallback {{route}} from {{from}}"}}},
		{"Replica lag (P99)", "Time from a write at its origin to its arrival here.", "s", [][2]string{{`histogram_quantile(0.99, sum by (le) (rate(duohuo_replica_lag_seconds_bucket[$__rate_interval])))`, "p99"}}},
		{"SLO burn rate (5m)", "Error ratio over 5m divided by the error budget; 14.4 pages.", "short", [][2]string{{`slo:current_burn_rate:ratio{sloth_service=~"$service"}`, "{{sloth_service}} {{sloth_slo}}"}}},
		{"SLO burn rates in the gateway", "Evaluated in the gateway (duohuo_slo_burn_rate), per window.", "short", [][2]string{{`duohuo_slo_burn_rate{` + sel + `}`, "{{service}} {{sli}} {{window}}"}}},
		{"Error budget remaining", "Share of the period's error budget left.", "percentunit", [][2]string{{`slo:period_error_budget_remaining:ratio{sloth_service=~"$service"}`, "{{sloth_service}} {{sloth_slo}}"}}},
		{"Health score per cloud", "0 (unhealthy) to 1 (docs/observability.md).", "short", [][2]string{{`duohuo_slo_health_score{` + sel + `}`, "{{service}} {{cloud}}"}}},
		{"P99 drift per cloud", "(P99 of the cloud − best cloud's) / best cloud's.", "percentunit", [][2]string{{`duohuo:request_duration_seconds:p99_drift_ratio` + window + `{` + sel + `}`, "{{service}} {{cloud}}"}}},
		{"Alerts firing", "", "short", [][2]string{{`ALERTS{alertname=~"Duohuo.*BudgetBurn", alertstate="firing"}`, "{{alertname}} {{sloth_service}} {{severity}}"}}},
	}
	for i, r := range rows {
		p := panel{
			ID: i + 1, Type: "timeseries", Title: r.title, Description: r.desc,
			GridPos:     map[string]int{"x": (i % 2) * 12, "y": (i / 2) * 8, "w": 12, "h": 8},
			Datasource:  ds,
			FieldConfig: map[string]any{"defaults": map[string]any{"unit": r.unit}, "overrides": []any{}},
		}
		for j, e := range r.exprs {
			p.Targets = append(p.Targets, target{RefID: string(rune('A' + j)), Expr: e[0], LegendFormat: e[1], Datasource: ds})
		}
		d.Panels = append(d.Panels, p)
	}
	return d
}
