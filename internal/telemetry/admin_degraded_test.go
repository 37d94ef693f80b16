package telemetry_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/duohuo/duohuo/internal/telemetry"
)

// Degraded parts are listed by /readyz without deciding readiness.
func TestReadyzListsDegradedParts(t *testing.T) {
	var notReady atomic.Bool
	_, base := startAdmin(t, telemetry.AdminOptions{
		Ready: func() error {
			if notReady.Load() {
				return errors.New("no listener")
			}
			return nil
		},
		Degraded: func() []string { return []string{"replica: not started: disk full"} },
	}, nil)
	c := client(t)
	if code, body := get(t, c, base+"/readyz", ""); code != 200 || body != "ready\ndegraded: replica: not started: disk full\n" {
		t.Errorf("GET /readyz with a degraded part = %d %q; want 200, ready, then the part", code, body)
	}
	notReady.Store(true)
	if code, body := get(t, c, base+"/readyz", ""); code != 503 || !strings.Contains(body, "not ready: no listener\ndegraded: replica") {
		t.Errorf("GET /readyz not ready with a degraded part = %d %q; want 503 naming both", code, body)
	}
}
