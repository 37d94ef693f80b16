package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/testexec"
)

// sloRulesConfig has four services that the promtool test below burns at
// known rates.
const sloRulesConfig = `
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - {name: fast, discovery: [{static: {instances: [{addr: "127.0.0.1:9001"}]}}]}
  - {name: slow, discovery: [{static: {instances: [{addr: "127.0.0.1:9002"}]}}]}
  - {name: trickle, discovery: [{static: {instances: [{addr: "127.0.0.1:9003"}]}}]}
  - {name: clean, discovery: [{static: {instances: [{addr: "127.0.0.1:9004"}]}}]}
routes:
  - {name: fast, service: fast, match: {path_prefix: /fast}}
  - {name: slow, service: slow, match: {path_prefix: /slow}}
  - {name: trickle, service: trickle, match: {path_prefix: /trickle}}
  - {name: clean, service: clean, match: {path_prefix: /clean}}
slo: {objective: 99.9%, latency_threshold: 250ms, latency_objective: 99%}
`

func writeRules(t *testing.T, dir string) string {
	t.Helper()
	rules, err := gateway.SLORules(parse(t, sloRulesConfig))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(testexec.Tool(t, "promtool", "apt-get install -y prometheus"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestSLORulesPassPromtoolCheck(t *testing.T) {
	promtool(t, "check", "rules", writeRules(t, t.TempDir()))
}

// g formats f as Go and Prometheus parse it back: exactly.
func g(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// TestSLORulesUnderPromtool feeds the rules series shaped like the
// gateway's, 128 requests a second per service for two hours, with 5xx
// answers at known shares: fast 1/32 (a burn of 31.25 against 99.9%),
// slow 1/128 (7.8125), trickle 1/512 (1.953125), clean none. Ratios are
// powers of two so that Prometheus computes them exactly.
func TestSLORulesUnderPromtool(t *testing.T) {
	dir := t.TempDir()
	writeRules(t, dir)
	perMinute := func(perSecond float64) string { return fmt.Sprintf("0+%gx120", perSecond*60) }
	var series []string
	add := func(s string, perSecond float64) {
		series = append(series, fmt.Sprintf("      - series: '%s'\n        values: '%s'", s, perMinute(perSecond)))
	}
	for _, svc := range []struct {
		name string
		bad  float64 // per second, of 128
	}{{"fast", 4}, {"slow", 1}, {"trickle", 0.25}, {"clean", 0}} {
		l := fmt.Sprintf(`route="%s",service="%s",cloud="c1"`, svc.name, svc.name)
		add(`duohuo_requests_total{`+l+`,code="2xx"}`, 128-svc.bad)
		add(`duohuo_requests_total{`+l+`,code="5xx"}`, svc.bad)
		add(`duohuo_requests_total{`+l+`,code="none"}`, 0)
	}
	// slow's latencies: cloud c1 answers all 64/s within 100ms (above
	// 50ms); c2 answers 63/s within 250ms and one above it. The latency
	// SLI's error ratio is 1/128.
	for _, b := range []struct {
		cloud, le string
		perSecond float64
	}{
		{"c1", "0.05", 0}, {"c1", "0.1", 64}, {"c1", "0.25", 64}, {"c1", "+Inf", 64},
		{"c2", "0.05", 0}, {"c2", "0.1", 0}, {"c2", "0.25", 63}, {"c2", "+Inf", 64},
	} {
		add(fmt.Sprintf(`duohuo_request_duration_seconds_bucket{route="slow",service="slow",cloud="%s",le="%s"}`, b.cloud, b.le), b.perSecond)
	}
	add(`duohuo_request_duration_seconds_count{route="slow",service="slow",cloud="c1"}`, 64)
	add(`duohuo_request_duration_seconds_count{route="slow",service="slow",cloud="c2"}`, 64)

	one, obj, latObj := 1.0, 0.999, 0.99
	budget, latBudget := one-obj, one-latObj // as PromQL computes vector(1 - 0.999)
	sel := func(svc, sli string) string {
		return fmt.Sprintf(`sloth_id="%s-%s", sloth_service="%s", sloth_slo="%s"`, svc, sli, svc, sli)
	}
	sample := func(expr, labels string, v float64) string {
		return fmt.Sprintf("      - expr: '%s'\n        eval_time: 2h\n        exp_samples:\n          - labels: '%s'\n            value: %s", expr, labels, g(v))
	}
	near := func(expr string, v float64) string { // for what Prometheus rounds its own way
		return fmt.Sprintf("      - expr: 'min(abs(%s - %s) < bool 1e-9)'\n        eval_time: 2h\n        exp_samples:\n          - value: 1", expr, g(v))
	}
	checks := []string{
		sample(`slo:sli_error:ratio_rate5m{sloth_id="fast-availability"}`, `slo:sli_error:ratio_rate5m{`+sel("fast", "availability")+`, sloth_window="5m"}`, 1.0/32),
		sample(`slo:sli_error:ratio_rate1h{sloth_id="slow-availability"}`, `slo:sli_error:ratio_rate1h{`+sel("slow", "availability")+`, sloth_window="1h"}`, 1.0/128),
		sample(`slo:sli_error:ratio_rate30m{sloth_id="trickle-availability"}`, `slo:sli_error:ratio_rate30m{`+sel("trickle", "availability")+`, sloth_window="30m"}`, 1.0/512),
		sample(`slo:sli_error:ratio_rate5m{sloth_id="clean-availability"}`, `slo:sli_error:ratio_rate5m{`+sel("clean", "availability")+`, sloth_window="5m"}`, 0),
		sample(`slo:sli_error:ratio_rate1h{sloth_id="slow-latency"}`, `slo:sli_error:ratio_rate1h{`+sel("slow", "latency")+`, sloth_window="1h"}`, 1.0/128),
		sample(`slo:objective:ratio{sloth_id="slow-availability"}`, `slo:objective:ratio{`+sel("slow", "availability")+`}`, obj),
		sample(`slo:error_budget:ratio{sloth_id="slow-latency"}`, `slo:error_budget:ratio{`+sel("slow", "latency")+`}`, latBudget),
		sample(`slo:time_period:days{sloth_id="slow-availability"}`, `slo:time_period:days{`+sel("slow", "availability")+`}`, 30),
		sample(`slo:current_burn_rate:ratio{sloth_id="fast-availability"}`, `slo:current_burn_rate:ratio{`+sel("fast", "availability")+`, sloth_window="5m"}`, (1.0/32)/budget),
		sample(`slo:current_burn_rate:ratio{sloth_id="slow-latency"}`, `slo:current_burn_rate:ratio{`+sel("slow", "latency")+`, sloth_window="5m"}`, (1.0/128)/latBudget),
		near(`slo:period_error_budget_remaining:ratio{sloth_id="slow-availability"}`, 1-(1.0/128)/budget),
		near(`slo:period_error_budget_remaining:ratio{sloth_id="clean-availability"}`, 1),
		sample(`duohuo:request_duration_seconds:p99_rate5m{cloud="c2"}`, `duohuo:request_duration_seconds:p99_rate5m{cloud="c2", service="slow"}`, 0.25),
		near(`duohuo:request_duration_seconds:p99_rate5m{cloud="c1"}`, 0.0995),
		sample(`duohuo:request_duration_seconds:p99_drift_ratio5m{cloud="c1"}`, `duohuo:request_duration_seconds:p99_drift_ratio5m{cloud="c1", service="slow"}`, 0),
		near(`duohuo:request_duration_seconds:p99_drift_ratio5m{cloud="c2"}`, (0.25-0.0995)/0.0995),
	}
	alert := func(name, svc, sli string, severities ...string) string {
		s := fmt.Sprintf("      - eval_time: 2h\n        alertname: %s\n        exp_alerts:", name)
		if len(severities) == 0 {
			return s + " []"
		}
		for _, sev := range severities {
			s += fmt.Sprintf(`
          - exp_labels: {severity: %s, sloth_severity: %s, sloth_id: %s-%s, sloth_service: %s, sloth_slo: %s}
            exp_annotations:
              title: "(%s) %s %s SLO error budget burn rate is too fast."
              summary: "%s %s SLO error budget burn rate is over the expected (%s objective 99.9%%)."`,
				sev, sev, svc, sli, svc, sli, sev, svc, sli, svc, sli, sli)
		}
		return s
	}
	// Alerts are tested per alert name: the availability alert is the
	// same name for every service, so its expected list is theirs
	// together.
	avail := alert("DuohuoAvailabilityBudgetBurn", "fast", "availability", "page", "ticket")
	avail += strings.TrimPrefix(alert("DuohuoAvailabilityBudgetBurn", "slow", "availability", "page", "ticket"), "      - eval_time: 2h\n        alertname: DuohuoAvailabilityBudgetBurn\n        exp_alerts:")
	avail += strings.TrimPrefix(alert("DuohuoAvailabilityBudgetBurn", "trickle", "availability", "ticket"), "      - eval_time: 2h\n        alertname: DuohuoAvailabilityBudgetBurn\n        exp_alerts:")
	alerts := []string{
		avail,
		// slow's latency burns 0.78 times its budget: no alert.
		alert("DuohuoLatencyBudgetBurn", "slow", "latency"),
	}
	test := "rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
		strings.Join(series, "\n") + "\n    promql_expr_test:\n" + strings.Join(checks, "\n") +
		"\n    alert_rule_test:\n" + strings.Join(alerts, "\n") + "\n"
	p := filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(p, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "test", "rules", p)
}

// The rules read the series the gateway exports, under the names and
// labels it gives them.
func TestSLORulesReadTheGatewaysSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := parse(t, fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, health: {active: {type: none}}, discovery: [{static: {instances: [{addr: "%s"}]}}]}]
routes: [{name: api, service: api}]
slo: {}
`, upstream(t, "a")))
	gw, err := gateway.New(gateway.Options{Config: cfg, Registerer: reg, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(gw)
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	waitKnown(t, gw, "api", 1)
	resp, err := http.Get("http://" + gw.Addrs()[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for k := range flatten(mfs) {
		text.WriteString(k + "\n")
	}
	for _, mf := range mfs {
		if mf.GetName() == "duohuo_request_duration_seconds" {
			for _, b := range mf.Metric[0].GetHistogram().GetBucket() {
				fmt.Fprintf(&text, "duohuo_request_duration_seconds_bucket{le=%q}\n", g(b.GetUpperBound()))
			}
		}
	}
	for _, want := range []string{
		`duohuo_requests_total{cloud="",code="2xx",route="api",service="api"}`,
		`duohuo_requests_total{cloud="",code="5xx",route="api",service="api"}`,
		`duohuo_requests_total{cloud="",code="none",route="api",service="api"}`,
		`duohuo_request_duration_seconds_bucket{le="0.25"}`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the gateway exports no %s; it has:\n%s", want, text.String())
		}
	}
	// The dashboard is valid JSON with what Grafana needs.
	d, err := gateway.SLODashboard(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		SchemaVersion int `json:"schemaVersion"`
		Panels        []struct {
			ID         int            `json:"id"`
			Title      string         `json:"title"`
			Datasource map[string]any `json:"datasource"`
			GridPos    map[string]int `json:"gridPos"`
			Targets    []struct {
				Expr       string         `json:"expr"`
				RefID      string         `json:"refId"`
				Datasource map[string]any `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(d, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.SchemaVersion == 0 || len(dash.Panels) < 10 {
		t.Fatalf("dashboard schemaVersion %d with %d panels", dash.SchemaVersion, len(dash.Panels))
	}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if p.ID == 0 || ids[p.ID] || p.Datasource["type"] != "prometheus" || p.GridPos["w"] == 0 || len(p.Targets) == 0 {
			t.Errorf("panel %q: id %d (unique: %v), datasource %v, gridPos %v, %d targets", p.Title, p.ID, !ids[p.ID], p.Datasource, p.GridPos, len(p.Targets))
		}
		ids[p.ID] = true
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || tg.Datasource["uid"] == nil {
				t.Errorf("panel %q: target %+v lacks expr, refId or datasource", p.Title, tg)
			}
		}
	}
	for _, want := range []string{"duohuo_breaker_transitions_total", "duohuo_ejections_total", "duohuo_gray_requests_total", "duohuo_replica_lag_seconds_bucket", "slo:current_burn_rate:ratio", "duohuo_slo_health_score"} {
		if !bytes.Contains(d, []byte(want)) {
			t.Errorf("the dashboard has no panel on %s", want)
		}
	}
}
