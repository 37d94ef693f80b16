package gateway

import (
	"testing"
	"time"

	"github.com/duohuo/duohuo/internal/config"
)

// Feeding the SLIs costs the request path no allocation, once the
// route's and cloud's series exist.
func TestSLOObserveDoesNotAllocate(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte("slo: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var s sloSet
	s.configure(cfg.SLO, nil)
	ss, threshold := s.get(sloKey{"r", "api", "c1"})
	if ss == nil || threshold != 250*time.Millisecond {
		t.Fatalf("get = %v, %v: want series and the default 250ms threshold", ss, threshold)
	}
	now := time.Now()
	if n := testing.AllocsPerRun(1000, func() { ss.observe(now, 200, 3*time.Millisecond, threshold) }); n != 0 {
		t.Errorf("observe allocates %v times per call, want 0", n)
	}
	// A reload that changes the period restarts the counters; one
	// that does not keeps them.
	before := ss.avail.Load()
	s.configure(cfg.SLO, nil)
	if ss.avail.Load() != before {
		t.Error("the same slo section replaced the counters")
	}
	next := *cfg.SLO
	next.Period = config.Duration(48 * time.Hour)
	next.Alerts = []config.SLOAlert{{Severity: "page", Long: config.Duration(time.Hour), Short: config.Duration(5 * time.Minute), Burn: 14.4}}
	s.configure(&next, nil)
	if ss.avail.Load() == before {
		t.Error("a new period kept the old counters")
	}
	s.configure(nil, nil)
	if got, _ := s.get(sloKey{"r", "api", "c2"}); got != nil {
		t.Errorf("with the section gone, get returned %v, want nil", got)
	}
	// A route that is gone takes its series with it.
	s.configure(cfg.SLO, &table{routes: []*route{{name: "other", svc: &service{name: "api"}}}})
	if _, ok := s.series.Load(sloKey{"r", "api", "c1"}); ok {
		t.Error("the series of a removed route were kept")
	}
}
