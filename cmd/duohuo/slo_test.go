package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSLOConfig(t *testing.T, slo string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "duohuo.yaml")
	cfg := "listeners: [{name: public, listen: \"127.0.0.1:0\"}]\n" +
		"services: [{name: api, discovery: [{static: {instances: [{addr: \"127.0.0.1:9001\"}]}}]}]\n" +
		"routes: [{name: api, service: api}]\n" + slo
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSLORulesCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"slo", "rules", "-c", writeSLOConfig(t, "slo: {objective: 99.5%}\n")}, &out, &errb); code != 0 {
		t.Fatalf("slo rules exited %d: %s", code, errb.String())
	}
	for _, want := range []string{"record: slo:sli_error:ratio_rate5m", "alert: DuohuoAvailabilityBudgetBurn", "severity: page", "severity: ticket", "vector(0.995)", `service="api"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("slo rules output lacks %q", want)
		}
	}
}

func TestSLOCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config file", []string{"slo", "rules"}, "-c FILE is required"},
		{"a threshold that is no bucket bound", []string{"slo", "rules", "-c", writeSLOConfig(t, "slo: {latency_threshold: 300ms}\n")}, "not a bucket bound of duohuo_request_duration_seconds"},
		{"an invalid slo section", []string{"slo", "dashboard", "-c", writeSLOConfig(t, "slo: {objective: 120%}\n")}, "slo.objective"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tt.name, code, errb.String(), exitUsage, tt.want)
		}
	}
}

func TestSLODashboardCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"slo", "dashboard", "-c", writeSLOConfig(t, "")}, &out, &errb); code != 0 {
		t.Fatalf("slo dashboard exited %d: %s", code, errb.String())
	}
	var d map[string]any
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("slo dashboard printed no JSON: %v", err)
	}
	if d["schemaVersion"] == nil || len(d["panels"].([]any)) == 0 {
		t.Errorf("dashboard without schemaVersion or panels: %v", d)
	}
}
