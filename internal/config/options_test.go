package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBalancerNames checks that the balancer is named as in package
// balancer and docs/balancing.md (peak_ewma, the default), and that
// p2c_ewma is accepted as another name for it.
func TestBalancerNames(t *testing.T) {
	for _, name := range []string{"peak_ewma", "p2c_ewma", "least_request", "round_robin"} {
		cfg, err := parse("t.yaml", []byte(service+"    balancer: "+name+"\n"), testEnv)
		if err != nil {
			t.Errorf("balancer %s: %v", name, err)
			continue
		}
		if got := cfg.Services[0].Balancer; got != name {
			t.Errorf("balancer %s: got %q", name, got)
		}
	}
	cfg, err := parse("t.yaml", []byte(service), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Services[0].Balancer; got != "peak_ewma" {
		t.Errorf("default balancer = %q, want peak_ewma", got)
	}
	_, err = parse("t.yaml", []byte(service+"    balancer: ewma\n"), testEnv)
	if es := errorsOf(t, err); len(es) != 1 || es[0].Path != "services[0].balancer" {
		t.Errorf("balancer ewma: %v, want one error at services[0].balancer", err)
	}
}

// TestExamplesHaveNoWarnings: the examples show settings that take effect.
func TestExamplesHaveNoWarnings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("../../examples", "*.yaml"))
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "bad") {
			continue
		}
		cfg, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if cfg.Warnings != nil {
			t.Errorf("%s: warnings %v; examples must show settings that take effect", f, cfg.Warnings)
		}
	}
}

// TestExpectedStatusListsAndRanges checks that expected_status takes
// statuses, ranges and classes, and refuses what is not one, at its place.
func TestExpectedStatusListsAndRanges(t *testing.T) {
	health := func(list string) string {
		return service + "    health:\n      active:\n        path: /healthz\n        expected_status: " + list + "\n"
	}
	cfg, err := parse("t.yaml", []byte(health(`[200, 204, "300-399", 4xx]`)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []StatusRange{{200, 200}, {204, 204}, {300, 399}, {400, 499}}
	if got := cfg.Services[0].Health.Active.ExpectedStatus; !slices.Equal(got, want) {
		t.Errorf("expected_status = %v, want %v", got, want)
	}
	for _, bad := range []string{"[99]", "[600]", `["399-300"]`, "[6xx]", `["abc"]`, `["200-"]`} {
		_, err := parse("t.yaml", []byte(health(bad)), testEnv)
		es := errorsOf(t, err)
		if len(es) != 1 || es[0].Line != 10 || !strings.HasPrefix(es[0].Path, "services[0].health.active.expected_status[0]") {
			t.Errorf("expected_status %s: %v, want one error at line 10, services[0].health.active.expected_status[0]", bad, err)
		}
	}
}

// TestOptionalSectionAsBoolean checks that an optional section written true
// is on with its defaults, and false is off; anything else is refused.
func TestOptionalSectionAsBoolean(t *testing.T) {
	route := service + "routes:\n  - name: r\n    service: api\n    hedge: "
	cfg, err := parse("t.yaml", []byte(route+"true\n"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Routes[0].Hedge; h == nil || h.MinSamples != 100 {
		t.Errorf("hedge: true = %+v, want the section with its defaults", h)
	}
	cfg, err = parse("t.yaml", []byte(route+"false\n"), testEnv)
	if err != nil || cfg.Routes[0].Hedge != nil {
		t.Errorf("hedge: false = %v, %v; want off", cfg, err)
	}
	_, err = parse("t.yaml", []byte(route+"maybe\n"), testEnv)
	if es := errorsOf(t, err); len(es) != 1 || es[0].Path != "routes[0].hedge" || !strings.Contains(es[0].Msg, "write true or false, or the section's keys") {
		t.Errorf("hedge: maybe: %v", err)
	}
}
