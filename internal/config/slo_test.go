package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/duohuo/duohuo/slo"
)

func TestSLODefaults(t *testing.T) {
	cfg, err := Parse("test.yaml", []byte(service+"slo: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.SLO
	if s == nil {
		t.Fatal("slo: {} gave no SLO section")
	}
	want := slo.Objective{Target: 0.999, Period: 720 * time.Hour}
	if got := s.Availability(); got.Target != want.Target || got.Period != want.Period || got.Alerts != nil {
		t.Errorf("Availability() = %+v, want %+v with the default alerts (nil)", got, want)
	}
	if got := s.Latency().Target; got != 0.99 {
		t.Errorf("Latency().Target = %v, want 0.99", got)
	}
	if got := time.Duration(s.LatencyThreshold); got != 250*time.Millisecond {
		t.Errorf("latency_threshold = %v, want 250ms", got)
	}
	want2 := slo.ScoreConfig{Weights: slo.DefaultWeights, MaxBurn: 14.4, MaxDrift: 1, MaxLag: time.Second}
	if diff := cmp.Diff(want2, s.ScoreConfig()); diff != "" {
		t.Errorf("ScoreConfig() (-want +got):\n%s", diff)
	}
	if cfg, _ := Parse("test.yaml", []byte(service)); cfg.SLO != nil {
		t.Errorf("without an slo section, SLO = %+v, want nil", cfg.SLO)
	}
}

func TestSLOAlerts(t *testing.T) {
	yaml := service + "slo:\n  period: 48h\n  alerts:\n    - {severity: page, long: 1h, short: 5m, burn: 14.4}\n    - {severity: ticket, long: 24h, short: 2h, burn: 3}\n"
	cfg, err := Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := []slo.Alert{{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Burn: 14.4}, {Severity: "ticket", Long: 24 * time.Hour, Short: 2 * time.Hour, Burn: 3}}
	if diff := cmp.Diff(want, cfg.SLO.Availability().Alerts); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

func TestSLOErrors(t *testing.T) {
	tests := []struct {
		name, yaml, path, msg string
	}{
		{"the default ticket's 3d window is longer than a 2-day period", "slo:\n  period: 48h\n", "slo.objective", "longer than the period"},
		{"a short window longer than the long one", "slo:\n  alerts:\n    - {severity: page, long: 1h, short: 2h, burn: 2}\n", "slo.alerts[0]", "must be longer than the short window"},
		{"a burn that can never fire", "slo:\n  objective: 90%\n  alerts:\n    - {severity: page, long: 1h, short: 5m, burn: 14.4}\n", "slo.alerts[0]", "could never fire"},
		{"a long window beyond 6h in hours and minutes", "slo:\n  alerts:\n    - {severity: ticket, long: 7h30m, short: 30m, burn: 1}\n", "slo.alerts[0].long", "whole hours beyond"},
		{"a severity that is neither page nor ticket", "slo:\n  alerts:\n    - {severity: sms, long: 1h, short: 5m, burn: 2}\n", "slo.alerts[0].severity", "sms"},
		{"every weight 0", "slo:\n  score:\n    weights: {availability: 0, latency: 0, drift: 0, lease: 0, replica_lag: 0}\n", "slo.score.weights", "every weight is 0"},
		{"an objective of 100%", "slo:\n  objective: 100%\n", "slo.objective", "between"},
	}
	for _, tt := range tests {
		_, err := Parse("test.yaml", []byte(service+tt.yaml))
		if err == nil {
			t.Errorf("%s: Parse succeeded, want an error at %s", tt.name, tt.path)
			continue
		}
		found := false
		for _, e := range errorsOf(t, err) {
			if e.Path == tt.path && strings.Contains(e.Msg, tt.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: errors %v, want one at %s containing %q", tt.name, err, tt.path, tt.msg)
		}
	}
}
