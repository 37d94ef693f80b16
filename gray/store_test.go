package gray_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duohuo/duohuo/gray"
)

// fixedClock returns a clock that advances one second per reading.
func fixedClock() func() time.Time {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var n atomic.Int64
	return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Second) }
}

// canary is a policy sending pct percent of users to v2.
func canary(pct float64) gray.Policy { return hashPolicy(pct) }

func routeUser(t testing.TB, s *gray.Store, route, id string) string {
	t.Helper()
	r := s.Router(route)
	if r == nil {
		return "<none>"
	}
	v, err := gray.Probe{Headers: map[string]string{"x-user-id": id}}.View()
	if err != nil {
		t.Fatal(err)
	}
	return r.Route(v, "").Subset
}

func TestStoreVersionsEveryChange(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{Now: fixedClock()})
	c1, err := s.Apply("checkout", canary(0), 0, gray.Meta{Who: "alice", Comment: "set up"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.Apply("search", canary(5), 0, gray.Meta{Who: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	c3, err := s.Apply("checkout", canary(100), 0, gray.Meta{Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if c1.Revision != 1 || c2.Revision != 2 || c3.Revision != 3 {
		t.Errorf("revisions = %d, %d, %d; want 1, 2, 3 (store-wide, increasing)", c1.Revision, c2.Revision, c3.Revision)
	}
	if c1.Who != "alice" || c1.Comment != "set up" || !c1.When.Before(c3.When) || c1.Kind != "apply" {
		t.Errorf("change 1 = %+v; want who, comment, kind apply and an earlier time than change 3", c1)
	}
	if got := s.Revision(); got != 3 {
		t.Errorf("Revision() = %d, want 3", got)
	}
	if h := s.History("checkout"); len(h) != 2 || h[0].Revision != 1 || h[1].Revision != 3 {
		t.Errorf("History(checkout) = %+v, want revisions 1 and 3", h)
	}
	again, err := s.Apply("checkout", canary(100), 0, gray.Meta{Who: "carol"})
	if err != nil || again.Revision != 3 {
		t.Errorf("re-applying the live policy = %d, %v; want the live revision 3 and no new change", again.Revision, err)
	}
}

func TestStoreRefusesAnInvalidPolicyAndKeepsServing(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	if _, err := s.Apply("checkout", canary(100), 0, gray.Meta{}); err != nil {
		t.Fatal(err)
	}
	bad := canary(100)
	bad.Rules[0].Subset = "v9"
	_, err := s.Apply("checkout", bad, 0, gray.Meta{})
	if !errors.Is(err, gray.ErrInvalid) {
		t.Fatalf("Apply(invalid) = %v, want ErrInvalid", err)
	}
	if got := routeUser(t, s, "checkout", "u1"); got != "v2" {
		t.Errorf("after a refused change user u1 goes to %s, want v2 (the old policy)", got)
	}
	if s.Revision() != 1 {
		t.Errorf("a refused change took a revision: %d", s.Revision())
	}
}

func TestStoreRollback(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	meta := gray.Meta{Who: "t"}
	if _, err := s.Apply("checkout", canary(0), 0, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply("checkout", canary(100), 0, meta); err != nil {
		t.Fatal(err)
	}
	if got := routeUser(t, s, "checkout", "u1"); got != "v2" {
		t.Fatalf("at 100%% u1 goes to %s", got)
	}
	c, err := s.Rollback("checkout", 0, meta)
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision != 3 || c.Kind != "rollback" || c.RolledBack != 2 || c.Restores != 1 {
		t.Errorf("Rollback = %+v, want revision 3 rolling back 2, restoring 1", c)
	}
	// The very next request sees the previous routing.
	if got := routeUser(t, s, "checkout", "u1"); got != "baseline" {
		t.Errorf("after rollback u1 goes to %s, want baseline", got)
	}
	// Rolling back the first change removes the route's policy; the
	// change names the policy's origin, not the rollback that restored it.
	c, err = s.Rollback("checkout", 0, meta)
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision != 4 || c.RolledBack != 1 || c.Restores != 0 || c.Policy != nil {
		t.Errorf("second Rollback = %+v, want revision 4 rolling back 1, restoring nothing", c)
	}
	if r := s.Router("checkout"); r != nil {
		t.Errorf("after rolling back the first change the route still has a policy")
	}
	if _, err := s.Rollback("checkout", 0, meta); !errors.Is(err, gray.ErrNoPrevious) {
		t.Errorf("Rollback past the first change = %v, want ErrNoPrevious", err)
	}
	if _, err := s.Rollback("nowhere", 0, meta); !errors.Is(err, gray.ErrNoRoute) {
		t.Errorf("Rollback(unknown route) = %v, want ErrNoRoute", err)
	}
	if h := s.History("checkout"); len(h) != 4 {
		t.Errorf("History has %d changes, want 4 (history only grows)", len(h))
	}
}

func TestStoreRollbackUndoesADelete(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	if _, err := s.Apply("checkout", canary(100), 0, gray.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete("checkout", 0, gray.Meta{}); err != nil {
		t.Fatal(err)
	}
	if s.Router("checkout") != nil {
		t.Fatalf("deleted route still has a router")
	}
	if _, err := s.Delete("checkout", 0, gray.Meta{}); !errors.Is(err, gray.ErrNoRoute) {
		t.Errorf("deleting twice = %v, want ErrNoRoute", err)
	}
	if _, err := s.Rollback("checkout", 0, gray.Meta{}); err != nil {
		t.Fatal(err)
	}
	if got := routeUser(t, s, "checkout", "u1"); got != "v2" {
		t.Errorf("after undoing the delete u1 goes to %s, want v2", got)
	}
}

func TestStoreHistoryIsBounded(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{History: 3})
	for i := range 6 {
		if _, err := s.Apply("checkout", canary(float64(i)), 0, gray.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	if h := s.History("checkout"); len(h) != 3 || h[0].Revision != 4 {
		t.Errorf("History = %d changes from revision %d, want 3 from 4", len(h), h[0].Revision)
	}
	for i := range 3 {
		if _, err := s.Rollback("checkout", 0, gray.Meta{}); err != nil {
			t.Fatalf("rollback %d within the bound: %v", i+1, err)
		}
	}
	if _, err := s.Rollback("checkout", 0, gray.Meta{}); !errors.Is(err, gray.ErrNoPrevious) {
		t.Errorf("rollback beyond the bound = %v, want ErrNoPrevious", err)
	}
	if r := s.Router("checkout"); r == nil || r.Policy().Rules[0].UserHash.Percent != 2 {
		t.Errorf("after 3 rollbacks from 5%% the live policy should be the 2%% one")
	}
}

func TestStoreExpectRevision(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	c, err := s.Apply("checkout", canary(1), 0, gray.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply("checkout", canary(2), c.Revision+1, gray.Meta{}); !errors.Is(err, gray.ErrConflict) {
		t.Errorf("Apply with a stale expectation = %v, want ErrConflict", err)
	}
	if _, err := s.Apply("checkout", canary(2), c.Revision, gray.Meta{}); err != nil {
		t.Errorf("Apply with the live revision expected: %v", err)
	}
	if _, err := s.Rollback("checkout", c.Revision, gray.Meta{}); !errors.Is(err, gray.ErrConflict) {
		t.Errorf("Rollback with a stale expectation = %v, want ErrConflict", err)
	}
}

func TestStoreApplyAllIsAReload(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	file := gray.Meta{Who: "config-file"}
	if _, err := s.ApplyAll(map[string]gray.Policy{"a": canary(1), "b": canary(2)}, file); err != nil {
		t.Fatal(err)
	}
	bad := canary(3)
	bad.Mode = "loose"
	_, err := s.ApplyAll(map[string]gray.Policy{"a": canary(1), "c": bad}, file)
	if !errors.Is(err, gray.ErrInvalid) || !strings.HasPrefix(err.Error(), "route c: mode:") || s.Router("b") == nil {
		t.Fatalf("ApplyAll with an invalid route = %v; want ErrInvalid naming route c and nothing changed", err)
	}
	changes, err := s.ApplyAll(map[string]gray.Policy{"a": canary(1), "c": canary(3)}, file)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(changes); got != "c:apply b:delete" {
		t.Errorf("ApplyAll changes = %s, want c:apply b:delete (a unchanged)", got)
	}
	if got := s.Routes(); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Errorf("Routes() = %v, want [a c]", got)
	}
}

func kinds(cs []gray.Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Route+":"+c.Kind)
	}
	return strings.Join(out, " ")
}

// TestStoreApplyAllKeepsAdminChanges: a reload applies what changed in
// the file, not the whole file again, so a rollback or an admin change to
// a route the file did not change survives, and admin-only routes stay.
func TestStoreApplyAllKeepsAdminChanges(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	file, admin := gray.Meta{Who: "config-file"}, gray.Meta{Who: "admin:alice"}
	if _, err := s.ApplyAll(map[string]gray.Policy{"a": canary(5), "b": canary(5)}, file); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollback("a", 0, admin); err != nil { // a's canary misbehaves
		t.Fatal(err)
	}
	if _, err := s.Apply("b", canary(20), 0, admin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply("x", canary(1), 0, admin); err != nil {
		t.Fatal(err)
	}
	// The file is reloaded with a change to an unrelated route only.
	changes, err := s.ApplyAll(map[string]gray.Policy{"a": canary(5), "b": canary(5), "c": canary(1)}, file)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(changes); got != "c:apply" {
		t.Errorf("reload changes = %s, want c:apply only", got)
	}
	if s.Router("a") != nil {
		t.Errorf("the reload undid the rollback of a")
	}
	if got := s.Router("b").Policy().Rules[0].UserHash.Percent; got != 20 {
		t.Errorf("b at %v%% after the reload, want the admin's 20%%", got)
	}
	if s.Router("x") == nil {
		t.Errorf("the reload removed the admin-only route x")
	}
	// Editing a in the file applies it again.
	changes, err = s.ApplyAll(map[string]gray.Policy{"a": canary(2), "b": canary(5), "c": canary(1)}, file)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(changes); got != "a:apply" || s.Router("a") == nil {
		t.Errorf("reload with a edited = %s, want a:apply", got)
	}
}

func TestStoreChangedWakesWaiters(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	ch := s.Changed()
	select {
	case <-ch:
		t.Fatal("Changed fired before any change")
	default:
	}
	if _, err := s.Apply("a", canary(1), 0, gray.Meta{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed did not fire after Apply")
	}
}

// TestStoreChangesUnderLoad routes from several goroutines while policies
// change and roll back: every request gets a decision from a complete
// policy (never a torn one), and the race detector sees no race.
func TestStoreChangesUnderLoad(t *testing.T) {
	s := gray.NewStore(gray.StoreConfig{})
	if _, err := s.Apply("checkout", canary(0), 0, gray.Meta{}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served, lost atomic.Int64
	for g := range 4 {
		wg.Go(func() {
			v, _ := gray.Probe{Headers: map[string]string{"x-user-id": "u" + string(rune('0'+g))}}.View()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := s.Router("checkout")
				if r == nil {
					lost.Add(1)
					continue
				}
				if d := r.Route(v, ""); d.Subset != "v2" && d.Subset != "baseline" {
					lost.Add(1)
				}
				served.Add(1)
			}
		})
	}
	for i := range 200 {
		if i%3 == 2 {
			if _, err := s.Rollback("checkout", 0, gray.Meta{}); err != nil {
				t.Error(err)
			}
			continue
		}
		if _, err := s.Apply("checkout", canary(float64(i%100)), 0, gray.Meta{}); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if lost.Load() != 0 {
		t.Errorf("%d of %d requests found no policy or a wrong subset during changes", lost.Load(), served.Load())
	}
}
