package health_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/health"
)

// An instance the registry does not vouch for (HealthUnknown, a Nacos
// protect threshold) takes no traffic until its first probe passes, and
// that one probe is enough (Envoy's ignore_new_hosts_until_first_hc); an
// instance the registry vouches for is in service at once.
func TestHealthUnknownWaitsForItsFirstProbe(t *testing.T) {
	release := make(chan struct{})
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes.Add(1) > 1 {
			<-release // only the first probe is answered during the test
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	unknown := addrOf(t, srv.Listener.Addr())
	vouched := netip.MustParseAddrPort("127.0.0.1:1") // never answers; probes need 3 failures

	tr, err := health.New(fastProbes(health.ProbeConfig{Path: "/healthz", HealthyThreshold: 2}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	tr.Update(discovery.ServiceView{Service: "api", Instances: []discovery.Instance{
		{ID: "unknown", Addr: unknown, Weight: 100, HealthUnknown: true},
		{ID: "vouched", Addr: vouched, Weight: 100},
	}})
	if s, _ := tr.State("unknown"); s.Status != health.Unhealthy || s.Weight != 0 {
		t.Errorf("HealthUnknown instance before any probe: %+v, want unhealthy with weight 0", s)
	}
	if s, _ := tr.State("vouched"); s.Status != health.Healthy {
		t.Errorf("vouched-for instance before any probe: %+v, want healthy", s)
	}
	s := waitStatus(t, tr, "unknown", health.Healthy)
	if s.Weight == 0 {
		t.Errorf("HealthUnknown instance after its first probe passed: %+v, want a weight", s)
	}
}

// With active probing off, nothing could ever vouch for a HealthUnknown
// instance: it is used as healthy.
func TestHealthUnknownWithoutProbesIsHealthy(t *testing.T) {
	tr, err := health.New(health.Config{Probe: health.ProbeConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	a := netip.MustParseAddrPort("127.0.0.1:1")
	tr.Update(discovery.ServiceView{Service: "api", Instances: []discovery.Instance{
		{ID: "unknown", Addr: a, Weight: 100, HealthUnknown: true},
	}})
	if s, _ := tr.State("unknown"); s.Status != health.Healthy {
		t.Errorf("HealthUnknown instance without probes: %+v, want healthy", s)
	}
}
