package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
)

func init() { subcommands = append(subcommands, newSLOCmd) }

func newSLOCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slo",
		Short: "Prometheus rules and a Grafana dashboard for the configured SLOs",
		Long: `The gateway evaluates its service level objectives itself (/v1/health,
duohuo_slo_* on /metrics). These commands make the same objectives for
Prometheus and Grafana, from the configuration file's slo section (the
defaults when it has none), over the gateway's own series
(duohuo_requests_total, duohuo_request_duration_seconds): see
docs/observability.md.`,
	}
	var path string
	load := func() (*config.Config, error) {
		if path == "" {
			return nil, usagef("slo: -c FILE is required")
		}
		cfg, err := config.Load(path)
		if err != nil {
			var errs config.Errors
			if errors.As(err, &errs) {
				return nil, usagef("%v", errs)
			}
			return nil, usagef("%s: %v", path, err)
		}
		return cfg, nil
	}
	rules := &cobra.Command{
		Use:   "rules",
		Short: "Print Prometheus recording and alerting rules (Sloth's names)",
		Long: `Rules prints a Prometheus rule file for every service of the
configuration: per SLO (availability, and latency when latency_threshold is
set), the error ratio over each alert window and the period
(slo:sli_error:ratio_rate5m, …), Sloth's meta recordings
(slo:objective:ratio, slo:error_budget:ratio,
slo:period_error_budget_remaining:ratio, …), and one multiwindow burn-rate
alert per severity (severity: page or ticket). A last group records the P99
per service and cloud and its drift against the best cloud. Check the file
with "promtool check rules".`,
		Example: `  duohuo slo rules -c /etc/duohuo/duohuo.yaml > /etc/prometheus/rules/duohuo-slo.yaml
  promtool check rules /etc/prometheus/rules/duohuo-slo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			out, err := gateway.SLORules(cfg)
			if err != nil {
				return usagef("%s: %v", path, err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	dash := &cobra.Command{
		Use:   "dashboard",
		Short: "Print a Grafana dashboard (JSON) for the gateway and its SLOs",
		Long: `Dashboard prints a Grafana dashboard model (JSON, schemaVersion 39) with
rate, errors and P99 duration per route and per cloud, upstream attempts,
breaker transitions, ejections, healthy instances, gray lanes, replica lag,
and the SLOs: burn rates (from the rules and from the gateway), error budget
remaining, health scores, P99 drift and the alerts firing. Import it in
Grafana (Dashboards, New, Import) and pick the Prometheus data source.`,
		Example: `  duohuo slo dashboard -c /etc/duohuo/duohuo.yaml > duohuo-dashboard.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			out, err := gateway.SLODashboard(cfg)
			if err != nil {
				return usagef("%s: %v", path, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
			return err
		},
	}
	cmd.PersistentFlags().StringVarP(&path, "config", "c", "", "config file (YAML); see docs/configuration.md")
	cmd.AddCommand(rules, dash)
	return cmd
}
