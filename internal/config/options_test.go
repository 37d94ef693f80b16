package config

import (
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
