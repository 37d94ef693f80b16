package graysync_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/internal/graysync"
	"github.com/duohuo/duohuo/replica"
	"github.com/duohuo/duohuo/replica/replicatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// site is one gateway's gray store with its replica and sync.
type site struct {
	name string
	gray *gray.Store
	rep  *replica.Store
	sync *graysync.Sync
	addr string
}

// sites starts n sites whose replicas join each other on loopback (through
// replicatest's transport, so that partitions can be made), each
// replicating its gray store; routes are the routes every site serves.
func sites(t *testing.T, n int, p *replicatest.Partition, routes ...string) []*site {
	t.Helper()
	return sitesTB(t, n, p, routes...)
}

func sitesTB(t testing.TB, n int, p *replicatest.Partition, routes ...string) []*site {
	t.Helper()
	var out []*site
	for i := range n {
		tr, err := replicatest.NewTransport(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg := replica.Config{
			Name: fmt.Sprintf("site-%d", i), Dir: t.TempDir(), BindAddr: "127.0.0.1", Transport: tr,
			SecretKey: []byte("0123456789abcdef"), Network: replica.NetworkLocal, AntiEntropyInterval: 200 * time.Millisecond,
			Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		if i > 0 {
			cfg.Join = []string{out[0].addr}
		}
		rep, err := replica.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		g := gray.NewStore(gray.StoreConfig{})
		s, err := graysync.Start(graysync.Config{Gray: g, Replica: rep, Routes: func() []string { return routes },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		st := &site{name: cfg.Name, gray: g, rep: rep, sync: s, addr: tr.Addr()}
		t.Cleanup(func() { st.sync.Close(); st.rep.Close() })
		out = append(out, st)
	}
	return out
}

func policy(percent float64) gray.Policy {
	return gray.Policy{
		Subsets: []gray.Subset{{Name: "v2", Labels: map[string]string{"version": "v2"}}},
		Rules:   []gray.Rule{{Name: "canary", Subset: "v2", UserHash: &gray.UserHash{Header: "x-user-id", Percent: percent}}},
	}
}

// percent returns the canary share live at s for route, -1 for no policy.
func percent(s *site, route string) float64 {
	c, ok := s.gray.Get(route)
	if !ok || c.Change.Policy == nil || len(c.Change.Policy.Rules) == 0 || c.Change.Policy.Rules[0].UserHash == nil {
		return -1
	}
	return c.Change.Policy.Rules[0].UserHash.Percent
}

func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// An apply on one site takes effect on the two others, with who and why;
// a rollback and a delete follow the same way.
func TestApplyReachesEverySite(t *testing.T) {
	ss := sites(t, 3, replicatest.NewPartition(), "checkout")
	if _, err := ss[0].gray.Apply("checkout", policy(5), 0, gray.Meta{Who: "admin:alice", Comment: "release 42"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range ss[1:] {
		waitFor(t, s.name+" to apply 5%", func() bool { return percent(s, "checkout") == 5 })
		c, _ := s.gray.Get("checkout")
		if c.Change.Who != "site:site-0 admin:alice" || c.Change.Comment != "release 42" {
			t.Errorf("%s: change by %q comment %q, want site:site-0 admin:alice and the comment", s.name, c.Change.Who, c.Change.Comment)
		}
	}
	if _, err := ss[1].gray.Apply("checkout", policy(20), 0, gray.Meta{Who: "admin:bob"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "20% everywhere", func() bool {
		return percent(ss[0], "checkout") == 20 && percent(ss[2], "checkout") == 20
	})
	if _, err := ss[0].gray.Rollback("checkout", 0, gray.Meta{Who: "admin:alice"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rollback to 5% everywhere", func() bool {
		return percent(ss[1], "checkout") == 5 && percent(ss[2], "checkout") == 5
	})
	if _, err := ss[2].gray.Delete("checkout", 0, gray.Meta{Who: "admin:carol"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no policy everywhere", func() bool {
		return percent(ss[0], "checkout") == -1 && percent(ss[1], "checkout") == -1
	})
}

// The file's policies stay each site's own; a policy for a route a site
// does not serve, or one that does not compile, is refused and counted.
func TestFilePoliciesStayLocalAndBadOnesAreRefused(t *testing.T) {
	ss := sites(t, 2, replicatest.NewPartition(), "checkout")
	if _, err := ss[0].gray.ApplyAll(map[string]gray.Policy{"checkout": policy(1)}, gray.Meta{Who: "config-file"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ss[0].gray.Apply("search", policy(3), 0, gray.Meta{Who: "admin:alice"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unknown route refused at site-1", func() bool { return ss[1].sync.Counts()["in/unknown_route"] == 1 })
	if percent(ss[1], "checkout") != -1 || percent(ss[1], "search") != -1 {
		t.Errorf("site-1 has checkout %v search %v, want neither: the file's policy stays at its site, search is not served here",
			percent(ss[1], "checkout"), percent(ss[1], "search"))
	}
	// A register that is not a policy record, written as another site
	// would.
	if err := ss[0].rep.Update(context.Background(), graysync.Prefix+"checkout", func(tx *replica.Txn) error {
		tx.Set([]byte(`{"site": "site-0", "kind": "apply", "policy": {"rules": [{"subset": "nope"}]}, "when": "2026-12-04T20:00:00Z", "revision": 9}`))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the invalid policy refused at site-1", func() bool { return ss[1].sync.Counts()["in/invalid"] == 1 })
	if percent(ss[1], "checkout") != -1 {
		t.Errorf("site-1 applied an invalid policy")
	}
}

// Sites cut off from each other keep accepting changes; after the heal
// every site has the same policy (the later change), and the site whose
// change lost says so.
func TestPartitionedChangesConvergeAfterHealing(t *testing.T) {
	p := replicatest.NewPartition()
	ss := sites(t, 2, p, "checkout")
	waitFor(t, "the sites to see each other", func() bool { return len(ss[0].rep.Members()) == 2 && len(ss[1].rep.Members()) == 2 })
	p.Cut(ss[0].addr, ss[1].addr)
	if _, err := ss[0].gray.Apply("checkout", policy(10), 0, gray.Meta{Who: "admin:alice"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // the second change is the later one
	if _, err := ss[1].gray.Apply("checkout", policy(30), 0, gray.Meta{Who: "admin:bob"}); err != nil {
		t.Fatal(err)
	}
	if percent(ss[0], "checkout") != 10 || percent(ss[1], "checkout") != 30 {
		t.Fatalf("during the cut: %v and %v, want each side's own", percent(ss[0], "checkout"), percent(ss[1], "checkout"))
	}
	p.HealAll()
	waitFor(t, "both sites at the later change", func() bool {
		return percent(ss[0], "checkout") == 30 && percent(ss[1], "checkout") == 30
	})
	if n := ss[0].sync.Counts()["in/replaced_local"]; n != 1 {
		t.Errorf("site-0 counts %v, want its change replaced once (replaced_local)", ss[0].sync.Counts())
	}
	c, _ := ss[0].gray.Get("checkout")
	if c.Change.Comment == "" {
		t.Error("site-0's change history does not say its change was replaced")
	}
}

// BenchmarkApplyToEverySite measures the time from an apply at one site to
// the policy live at two others, three sites on loopback (NetworkLocal:
// deltas are sent as soon as they are durable).
//
//	go test -run '^$' -bench ApplyToEverySite -benchtime 20x ./internal/graysync
func BenchmarkApplyToEverySite(b *testing.B) {
	ss := sitesTB(b, 3, replicatest.NewPartition(), "checkout")
	var lat []time.Duration
	pct := 1.0
	for b.Loop() {
		pct++
		start := time.Now()
		if _, err := ss[0].gray.Apply("checkout", policy(pct), 0, gray.Meta{Who: "bench"}); err != nil {
			b.Fatal(err)
		}
		for percent(ss[1], "checkout") != pct || percent(ss[2], "checkout") != pct {
			if time.Since(start) > 20*time.Second {
				b.Fatal("not applied everywhere within 20s")
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
