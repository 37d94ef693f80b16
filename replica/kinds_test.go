package replica_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

// One object name created as a counter on the majority side of a
// partition and as a set on the isolated side: after healing, every site
// holds the kind created first, the other kind's state is kept aside
// (counted, listed, over HTTP too) on the sites that had it, writes of the
// losing kind answer 409 naming the winner, and all of it survives a
// restart of every site.
func TestKindConflictResolvesToTheKindCreatedFirst(t *testing.T) {
	for _, tt := range []struct {
		name       string
		setFirst   bool
		winner     crdt.Kind
		asideOn    []int // the sites that held the losing kind
		losingKind string
	}{
		{"the counter created first wins", false, crdt.KindPNCounter, []int{2}, "orset"},
		{"the set created first wins", true, crdt.KindORSet, []int{0, 1}, "pncounter"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, 3)
			ctx := context.Background()
			c.p.Isolate(c.addrs[2], c.addrs[0], c.addrs[1])
			incr := func(i int) error {
				return c.stores[i].Update(ctx, "x", func(tx *replica.Txn) error { tx.Add(1); return nil })
			}
			sadd := func(i int, m string) error {
				return c.stores[i].Update(ctx, "x", func(tx *replica.Txn) error { tx.SetAdd(m); return nil })
			}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			counterSide := func() {
				must(incr(0))
				must(incr(0))
				c.waitFor("site-1 to see the counter", 10*time.Second, func() bool {
					o, err := c.stores[1].Get("x")
					return err == nil && o.Kind() == crdt.KindPNCounter
				})
				must(incr(1))
			}
			setSide := func() {
				must(sadd(2, "a"))
				must(sadd(2, "b"))
			}
			// Creations two milliseconds apart at least, so that the
			// hybrid times alone order them.
			if tt.setFirst {
				setSide()
				time.Sleep(2 * time.Millisecond) // orders the two creations, not a wait for an event
				counterSide()
			} else {
				counterSide()
				time.Sleep(2 * time.Millisecond) // orders the two creations, not a wait for an event
				setSide()
			}
			c.p.HealAll()
			settled := func() bool {
				if !c.converged() {
					return false
				}
				for _, s := range c.stores {
					if o, err := s.Get("x"); err != nil || o.Kind() != tt.winner {
						return false
					}
				}
				return true
			}
			c.waitFor("every site to hold the kind created first", 30*time.Second, settled)

			check := func(when string) {
				t.Helper()
				for i, s := range c.stores {
					o, _ := s.Get("x")
					switch o := o.(type) {
					case *crdt.PNCounter:
						if o.Value() != 3 {
							t.Errorf("%s: x on %s = %d, want 3", when, s.Name(), o.Value())
						}
					case *crdt.ORSet:
						if got := o.Elements(); !slices.Equal(got, []string{"a", "b"}) {
							t.Errorf("%s: x on %s = %v, want [a b]", when, s.Name(), got)
						}
					}
					conflicts := s.Conflicts()
					if !slices.Contains(tt.asideOn, i) {
						// A delta of the losing kind sent just before the
						// heal may have arrived after it: kept aside too.
						for _, cf := range conflicts {
							if cf.Object != "x" || cf.Kind != tt.losingKind || cf.Winner != tt.winner.String() {
								t.Errorf("%s: %s holds conflict %+v, want none or x's %s", when, s.Name(), cf, tt.losingKind)
							}
						}
						continue
					}
					if len(conflicts) != 1 || conflicts[0].Object != "x" || conflicts[0].Kind != tt.losingKind || conflicts[0].Winner != tt.winner.String() {
						t.Fatalf("%s: conflicts on %s = %+v, want x's %s kept aside", when, s.Name(), conflicts, tt.losingKind)
					}
					// What was acknowledged of the losing kind is kept.
					switch v := conflicts[0].State.Value.(type) {
					case int64:
						if v != 3 { // site-0's two and site-1's one
							t.Errorf("%s: counter aside on %s = %d, want 3", when, s.Name(), v)
						}
					case []string:
						if !slices.Equal(v, []string{"a", "b"}) {
							t.Errorf("%s: set aside on %s = %v, want [a b]", when, s.Name(), v)
						}
					default:
						t.Errorf("%s: state aside on %s = %#v", when, s.Name(), conflicts[0].State)
					}
					if got := metric(t, c.regs[i], "duohuo_replica_kind_conflicts"); got != 1 {
						t.Errorf("%s: duohuo_replica_kind_conflicts on %s = %v, want 1", when, s.Name(), got)
					}
				}
			}
			check("after healing")

			// A write of the losing kind is refused, naming the winner.
			loser := tt.asideOn[0]
			var err error
			if tt.setFirst {
				err = incr(loser)
			} else {
				err = sadd(loser, "c")
			}
			if !errors.Is(err, crdt.ErrKind) || !strings.Contains(err.Error(), tt.winner.String()) {
				t.Errorf("write of the losing kind = %v, want a kind error naming %s", err, tt.winner)
			}
			srv := httptest.NewServer(replica.Handler(c.stores[loser]))
			defer srv.Close()
			op := "op=sadd&member=c"
			if tt.setFirst {
				op = "op=incr"
			}
			resp, err := http.Post(srv.URL+"/v1/kv/x?"+op, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), tt.winner.String()) {
				t.Errorf("POST %s = %d %q, want 409 naming %s", op, resp.StatusCode, body, tt.winner)
			}
			resp, err = http.Get(srv.URL + "/v1/kv/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), `"conflicts":[{"object":"x","kind":"`+tt.losingKind+`"`) {
				t.Errorf("GET /v1/kv/ = %s, want the conflict listed", body)
			}
			srv.Close()

			for i := range c.stores {
				c.restart(t, i)
			}
			c.waitFor("every site to hold the kind created first after restarts", 30*time.Second, settled)
			check("after restarting every site")
		})
	}
}
