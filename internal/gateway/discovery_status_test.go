package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/duohuo/duohuo/internal/gateway"
)

// GET /v1/discovery/{name} says what each source reports and why an
// instance is hidden, with the published instances' health; the
// duohuo_discovery_* series describe each source.
func TestDiscoveryDumpAndMetrics(t *testing.T) {
	a, b := upstream(t, "a"), upstream(t, "b")
	cfg := fmt.Sprintf(`
listeners: [{name: public, listen: "127.0.0.1:0"}]
services:
  - name: api
    discovery:
      - static: {instances: [{addr: "%s"}]}
      - static: {instances: [{addr: "%s", weight: 7}, {addr: "%s"}]}
routes: [{name: all, service: api}]
`, a, a, b)
	reg := prometheus.NewRegistry()
	g, err := gateway.New(gateway.Options{Config: parse(t, cfg), Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	srv := httptest.NewServer(g.AdminHandler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/v1/discovery/api")
	if err != nil {
		t.Fatal(err)
	}
	var d gateway.DiscoveryDump
	err = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/discovery/api = %d, %v", resp.StatusCode, err)
	}
	if d.Service != "api" || len(d.Sources) != 2 || len(d.Published) != 2 {
		t.Fatalf("dump = %+v; want api, two sources, two published instances", d)
	}
	second := d.Sources[1]
	fate := map[string]string{}
	for _, in := range second.Instances {
		fate[in.Addr.String()] = in.Why
		if in.Published {
			fate[in.Addr.String()] = "published"
		}
	}
	if len(second.Instances) != 2 || !strings.Contains(fate[a], d.Sources[0].Source) || fate[b] != "published" {
		t.Errorf("second source = %+v; want %s hidden by the first source and %s published", second, a, b)
	}
	for _, in := range d.Published {
		if in.Status == "" {
			t.Errorf("published %s has no health status", in.Addr)
		}
	}
	resp, err = http.Get(srv.URL + "/v1/discovery/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/discovery/nope = %d, want 404", resp.StatusCode)
	}

	want := fmt.Sprintf(`
# HELP duohuo_discovery_source_instances Instances in the source's last accepted report.
# TYPE duohuo_discovery_source_instances gauge
duohuo_discovery_source_instances{source=%q} 1
duohuo_discovery_source_instances{source=%q} 2
# HELP duohuo_discovery_source_shadowed_instances Instances of the source hidden by a source of higher precedence reporting the same address or id.
# TYPE duohuo_discovery_source_shadowed_instances gauge
duohuo_discovery_source_shadowed_instances{source=%q} 0
duohuo_discovery_source_shadowed_instances{source=%q} 1
`, d.Sources[0].Source, second.Source, d.Sources[0].Source, second.Source)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "duohuo_discovery_source_instances", "duohuo_discovery_source_shadowed_instances"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "duohuo_discovery_source_last_success_timestamp_seconds", "duohuo_discovery_source_stale", "duohuo_discovery_source_updates_total"); err != nil || n != 6 {
		t.Errorf("last_success, stale and updates series: %d, %v; want 2 each", n, err)
	}
}

// discovery.drop_guard decides whether a report that takes most instances
// away is held: by default (50%) the instances keep serving until it is
// confirmed; with share 0% it applies at once; a reload changes it.
func TestDropGuardFromTheConfig(t *testing.T) {
	dir := t.TempDir()
	a, b, c := upstream(t, "a"), upstream(t, "b"), upstream(t, "c")
	file := dir + "/instances.yaml"
	write := func(addrs ...string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(instancesFile(addrs...)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write(a, b, c)
	cfgText := func(share string) string {
		return fmt.Sprintf(`
discovery: {drop_guard: {share: "%s", reports: 1000, after: 1h}}
listeners: [{name: public, listen: "127.0.0.1:0"}]
services: [{name: api, discovery: [{file: {path: %q}}]}]
routes: [{name: all, service: api}]
`, share, file)
	}
	g := start(t, parse(t, cfgText("50%")), dir)
	defer g.Shutdown(context.Background())
	instances := func() int {
		d, _ := g.DiscoveryDumps("api")
		if len(d) != 1 {
			return -1
		}
		return len(d[0].Published)
	}
	held := func() bool {
		d, _ := g.DiscoveryDumps("api")
		return len(d) == 1 && len(d[0].Sources) == 1 && d[0].Sources[0].Held != nil
	}
	eventually(t, "three instances", 10*time.Millisecond, func() bool { return instances() == 3 })
	write(a)
	eventually(t, "the drop held", 10*time.Millisecond, held)
	if n := instances(); n != 3 {
		t.Fatalf("with the guard on, %d instances published after the drop; want the 3 held", n)
	}
	// Off after a reload: the same drop applies at once.
	if err := g.Reload(parse(t, cfgText("0%"))); err != nil {
		t.Fatal(err)
	}
	write(a, b, c)
	eventually(t, "three instances again", 10*time.Millisecond, func() bool { return instances() == 3 && !held() })
	write(b)
	eventually(t, "the drop applied", 10*time.Millisecond, func() bool { return instances() == 1 })
	if held() {
		t.Error("a drop is held with share 0%")
	}
}
