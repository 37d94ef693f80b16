package replica_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

// skewedClock is a physical clock a test moves: time.Now plus an offset.
type skewedClock struct{ off atomic.Int64 }

func (c *skewedClock) now() time.Time      { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *skewedClock) set(d time.Duration) { c.off.Store(int64(d)) }

func gaugeOf(t *testing.T, c *cluster, i int, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := c.regs[i].Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func register(t *testing.T, s *replica.Store, key string) string {
	t.Helper()
	o, err := s.Get(key)
	if err != nil {
		return ""
	}
	v, _ := o.(*crdt.LWWRegister).Get()
	return string(v)
}

func setRegister(t *testing.T, s *replica.Store, key, v string) {
	t.Helper()
	if err := s.Update(context.Background(), key, func(tx *replica.Txn) error { tx.Set([]byte(v)); return nil }); err != nil {
		t.Fatalf("Set %s on %s: %v", key, s.Name(), err)
	}
}

// A site whose clock runs 3s ahead (the bound is 500ms): neither its
// deltas nor its anti-entropy states are accepted, so its register write
// cannot win over the later writes of the others; each site measures the
// offset, and the one ahead is named. Once its clock is fixed, what it
// wrote (acknowledged, kept on its disk) converges, and the receivers'
// clocks move past its stamps: a write made after that wins everywhere.
func TestClockAheadWinsByNoPath(t *testing.T) {
	var skew skewedClock
	skew.set(3 * time.Second)
	logs := &logRecorder{}
	c := newCluster(t, 2)
	// site-0's log, for whom it blames; a new site-0 with it would need
	// a restart, so site-1's view is checked through its metrics.
	ahead := c.add(t, func(cfg *replica.Config) {
		cfg.Clock = skew.now
		cfg.Logger = slog.New(logs)
	})
	c.waitFor("3 members", 20*time.Second, func() bool {
		return len(c.stores[0].Members()) == 3 && len(c.stores[1].Members()) == 3
	})
	setRegister(t, c.stores[0], "r", "before")
	c.waitFor("the register everywhere", 20*time.Second, func() bool {
		return register(t, c.stores[1], "r") == "before" && register(t, ahead, "r") == "before"
	})

	setRegister(t, ahead, "r", "from the future")
	if err := ahead.Update(context.Background(), "hits", func(tx *replica.Txn) error { tx.Add(5); return nil }); err != nil {
		t.Fatal(err)
	}
	// Deltas are refused; then anti-entropy offers the state, which must
	// be refused too: wait for several rounds of refusals on both sites.
	refused := func(i int) float64 {
		return c.counterSumOf(i, "duohuo_replica_rejected_total", map[string]string{"reason": "clock"})
	}
	c.waitFor("states of the site ahead refused, rounds after its deltas", 30*time.Second, func() bool {
		return refused(0) >= 4 && refused(1) >= 4
	})
	for i := range 2 {
		if got := register(t, c.stores[i], "r"); got != "before" {
			t.Fatalf("register on %s = %q while the site ahead is refused, want %q", c.stores[i].Name(), got, "before")
		}
		if off := gaugeOf(t, c, i, "duohuo_replica_peer_clock_offset_seconds", map[string]string{"peer": "site-2"}); off < 2 || off > 4 {
			t.Errorf("site-%d: offset of site-2 = %vs, want about +3s", i, off)
		}
	}
	if off := gaugeOf(t, c, 2, "duohuo_replica_peer_clock_offset_seconds", map[string]string{"peer": "site-0"}); off > -2 || off < -4 {
		t.Errorf("site-2: offset of site-0 = %vs, want about -3s", off)
	}
	c.waitFor("site-2 to blame its own clock", 20*time.Second, func() bool {
		return logs.find(slog.LevelWarn, "this site's clock is ahead of every other site's")
	})
	// A write on site-0 made now is later than the refused one in real
	// time; it stays, and reaches the site ahead.
	setRegister(t, c.stores[0], "r", "now")
	c.waitFor("site-0's write everywhere", 20*time.Second, func() bool {
		return register(t, c.stores[1], "r") == "now" && register(t, ahead, "r") == "from the future"
	})

	// Fix the clock. The site's hybrid clock stays at its stamps until
	// physical time passes them (it never goes back); then its writes
	// are accepted and converge, and nothing acknowledged is lost.
	skew.set(0)
	c.waitFor("convergence once the clock is fixed", 60*time.Second, c.converged)
	for _, s := range c.stores {
		if got := counterValue(t, s, "hits"); got != 5 {
			t.Errorf("hits on %s = %d, want the 5 the site ahead acknowledged", s.Name(), got)
		}
	}
	// Accepting the state moved site-0's clock past its stamps: a write
	// made now wins everywhere.
	setRegister(t, c.stores[0], "r", "after")
	c.waitFor("the latest write everywhere", 20*time.Second, func() bool {
		for _, s := range c.stores {
			if register(t, s, "r") != "after" {
				return false
			}
		}
		return true
	})
}

// A site whose clock runs behind every other one refuses their writes, and
// its log blames its own clock, not theirs.
func TestClockBehindEveryoneBlamesItsOwn(t *testing.T) {
	var skew skewedClock
	skew.set(-3 * time.Second)
	logs := &logRecorder{}
	c := newCluster(t, 2)
	behind := c.add(t, func(cfg *replica.Config) {
		cfg.Clock = skew.now
		cfg.Logger = slog.New(logs)
	})
	c.waitFor("3 members", 20*time.Second, func() bool { return len(behind.Members()) == 3 })
	setRegister(t, c.stores[0], "r", "a")
	setRegister(t, c.stores[1], "q", "b")
	c.waitFor("site-2 to blame its own clock", 20*time.Second, func() bool {
		return logs.find(slog.LevelWarn, "this site's clock is behind every other site's")
	})
	if logs.find(slog.LevelWarn, "fix the peer's clock") && !logs.find(slog.LevelWarn, "this site's clock is behind") {
		t.Error("site-2 blamed a peer's clock")
	}
	c.waitFor("site-2 to refuse the others' writes", 20*time.Second, func() bool {
		return c.counterSumOf(2, "duohuo_replica_rejected_total", map[string]string{"reason": "clock"}) >= 2
	})
	if _, err := behind.Get("r"); err == nil {
		t.Error("site-2 accepted a write from a site whose clock is 3s ahead of its own")
	}
	// Its own writes are accepted by the others (their clocks are ahead).
	setRegister(t, behind, "mine", "c")
	c.waitFor("site-2's write on the others", 20*time.Second, func() bool {
		return register(t, c.stores[0], "mine") == "c" && register(t, c.stores[1], "mine") == "c"
	})
	skew.set(0)
	c.waitFor("convergence once the clock is fixed", 30*time.Second, c.converged)
}
