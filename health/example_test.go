package health_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/health"
)

// A Tracker probes instances and learns from the outcomes the proxy
// reports; the balancer reads Snapshot after each change notice.
func Example() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	addr := netip.MustParseAddrPort(up.Listener.Addr().String())

	tr, err := health.New(health.Config{
		Probe:   health.ProbeConfig{Path: "/healthz", Interval: 100 * time.Millisecond},
		Outlier: health.OutlierConfig{MaxEjectionPercent: 100},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	tr.Update(discovery.ServiceView{Service: "api", Instances: []discovery.Instance{
		{ID: "a", Addr: addr, Weight: 100},
	}})
	<-tr.Changes()
	fmt.Println(tr.Snapshot()[0].Status)

	// The proxy saw five 503s in a row from "a": it is ejected at once.
	for range 5 {
		tr.Observe("a", health.Outcome{Class: health.ClassOfStatus(503), Latency: time.Millisecond})
	}
	<-tr.Changes()
	s, _ := tr.State("a")
	fmt.Println(s.Status, s.Weight, s.Reason)
	// Output:
	// healthy
	// ejected 0 ejected for 30s: 5 consecutive 5xx
}
