package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/internal/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type served struct {
	Instance string `json:"instance"`
	Cloud    string `json:"cloud"`
}

// get sends one request through the gateway and returns who answered.
func get(t *testing.T, c *http.Client, url string) (served, int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var s served
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("GET %s: body %q: %v", url, b, err)
		}
	}
	return s, resp.StatusCode
}

// attemptsTo sums duohuo_upstream_attempts_total over the given instances.
func attemptsTo(t *testing.T, reg *prometheus.Registry, addrs map[string]bool) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "duohuo_upstream_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if addrs[label(m, "instance")] {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// counter sums every series of the named counter.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// waitFor polls cond while sending traffic until it holds or the deadline
// passes.
func waitFor(t *testing.T, what string, d time.Duration, step func(), cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		step()
	}
}

// Every instance of the local cloud dies: traffic moves to the other clouds,
// no attempt reaches a dead instance once they are out of rotation, and
// traffic comes back when they return.
func TestLocalCloudFailoverAndReturn(t *testing.T) {
	reg := prometheus.NewRegistry()
	top, err := demo.Start(demo.Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BasePort: -1}, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(context.Background())
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	url := top.URL() + "/hello"

	// Steady state: the local cloud serves everything.
	for i := 0; i < 60; i++ {
		s, code := get(t, c, url)
		if code != http.StatusOK || s.Cloud != "ctyun" {
			t.Fatalf("steady request %d: %d from %q, want 200 from ctyun", i, code, s.Cloud)
		}
	}

	local := top.Cloud("ctyun")
	dead := map[string]bool{}
	for _, b := range local {
		dead[b.Addr()] = true
		b.Stop()
	}
	failures := 0
	step := func() {
		if _, code := get(t, c, url); code != http.StatusOK {
			failures++
		}
	}
	localOut := func() bool {
		st := top.Gateway.Stats("demo")
		return st.Tiers[1].Healthy == 0 // same region: the ctyun instances
	}
	waitFor(t, "the local cloud to leave rotation", 10*time.Second, step, localOut)
	t.Logf("client-visible failures while the local cloud was being ejected: %d", failures)

	before := attemptsTo(t, reg, dead)
	clouds := map[string]int{}
	for i := 0; i < 300; i++ {
		s, code := get(t, c, url)
		if code != http.StatusOK {
			t.Fatalf("request %d after ejection: status %d, want 200", i, code)
		}
		clouds[s.Cloud]++
	}
	if after := attemptsTo(t, reg, dead); after != before {
		t.Errorf("attempts to dead instances after ejection: %v, want 0", after-before)
	}
	if n := counter(t, reg, "duohuo_ejections_total"); n < float64(len(local)) {
		t.Errorf("duohuo_ejections_total = %v, want at least %d", n, len(local))
	}
	if clouds["ctyun"] != 0 || clouds["ecloud"] == 0 || clouds["huawei"] == 0 {
		t.Errorf("served by cloud after failover = %v, want ecloud and huawei only", clouds)
	}

	// The local cloud returns on the same addresses.
	for _, b := range local {
		if err := b.Start(""); err != nil {
			t.Fatal(err)
		}
	}
	back := func() bool {
		s, code := get(t, c, url)
		return code == http.StatusOK && s.Cloud == "ctyun" && top.Gateway.Stats("demo").Tiers[1].Healthy == len(local)
	}
	waitFor(t, "traffic to return to the local cloud", 30*time.Second, func() {}, back)
	clouds = map[string]int{}
	for i := 0; i < 100; i++ {
		s, code := get(t, c, url)
		if code != http.StatusOK {
			t.Fatalf("request %d after return: status %d", i, code)
		}
		clouds[s.Cloud]++
	}
	if clouds["ctyun"] != 100 {
		t.Errorf("served by cloud after return = %v, want all ctyun", clouds)
	}
}

func TestDemoAnswersThroughGateway(t *testing.T) {
	top, err := demo.Start(demo.Options{Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", BasePort: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Shutdown(context.Background())
	resp, err := http.Get(top.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"cloud":"ctyun"`) {
		t.Errorf("GET / = %d %s, want 200 from ctyun", resp.StatusCode, b)
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" {
		t.Error("no X-Request-Id on the response")
	}
}
