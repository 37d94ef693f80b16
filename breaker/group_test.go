package breaker_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/duohuo/duohuo/breaker"
)

func TestGroupKeepsOneBreakerPerKey(t *testing.T) {
	g, err := breaker.NewGroup(breaker.Config{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	a := g.Get("10.0.0.1:80")
	if g.Get("10.0.0.1:80") != a {
		t.Fatal("Get returned a different breaker for the same key")
	}
	if b := g.Get("10.0.0.2:80"); b == a || b.Name() != "api/10.0.0.2:80" {
		t.Fatalf("second key: %q (same as first: %v), want its own breaker named api/10.0.0.2:80", b.Name(), b == a)
	}
	for range 5 {
		tk, _ := a.Allow()
		a.Done(tk, breaker.Network, 0)
	}
	if a.State() != breaker.Open || g.Get("10.0.0.2:80").State() != breaker.Closed {
		t.Fatal("tripping one key's breaker affected another")
	}
	g.Retain(func(k string) bool { return k != "10.0.0.1:80" })
	if got := g.Keys(); !slices.Equal(got, []string{"10.0.0.2:80"}) {
		t.Fatalf("Keys() after Retain = %v, want [10.0.0.2:80]", got)
	}
	if g.Get("10.0.0.1:80") == a || g.Get("10.0.0.1:80").State() != breaker.Closed {
		t.Fatal("a dropped key came back with its old, open breaker")
	}
}

func TestGroupWithoutNameUsesTheKey(t *testing.T) {
	g, err := breaker.NewGroup(breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if n := g.Get("route-a").Name(); n != "route-a" {
		t.Fatalf("Name() = %q, want route-a", n)
	}
}

func TestGroupConcurrentGet(t *testing.T) {
	g, err := breaker.NewGroup(breaker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b", "c", "d"}
	got := make([][]*breaker.Breaker, 8)
	var wg sync.WaitGroup
	for w := range got {
		wg.Go(func() {
			for _, k := range keys {
				got[w] = append(got[w], g.Get(k))
			}
		})
	}
	wg.Wait()
	for w := range got {
		if !slices.Equal(got[w], got[0]) {
			t.Fatalf("goroutine %d got other breakers than goroutine 0 for the same keys", w)
		}
	}
}

func TestLogTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		l := slog.New(slog.NewJSONHandler(&buf, nil))
		b, err := breaker.New(breaker.Config{Name: "db", OnStateChange: breaker.LogTo(l), ConsecutiveFailures: 1})
		if err != nil {
			t.Fatal(err)
		}
		tk, _ := b.Allow()
		b.Done(tk, breaker.Timeout, 0)
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", buf.String(), err)
		}
		want := map[string]any{"level": "WARN", "msg": "breaker state change", "breaker": "db", "from": "closed", "to": "open", "reason": "1 consecutive failures", "generation": float64(2)}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("log field %s = %v, want %v (line %s)", k, rec[k], v, buf.String())
			}
		}
	})
}
