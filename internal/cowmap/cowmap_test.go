package cowmap_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/duohuo/duohuo/internal/cowmap"
)

func TestMap(t *testing.T) {
	var m cowmap.Map[string, int]
	if v, ok := m.Load("a"); ok || v != 0 {
		t.Fatalf("zero Map: Load = %v, %v; want 0, false", v, ok)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("zero Map: Len = %d", n)
	}
	for range m.All() {
		t.Fatal("zero Map: All yields")
	}
	made := 0
	mk := func(v int) func() int { return func() int { made++; return v } }
	if v := m.LoadOrMake("a", mk(1)); v != 1 {
		t.Errorf("LoadOrMake(new) = %d, want 1", v)
	}
	if v := m.LoadOrMake("a", mk(2)); v != 1 || made != 1 {
		t.Errorf("LoadOrMake(existing) = %d after %d makes, want 1 after 1", v, made)
	}
	m.Store("b", 2)
	m.Store("a", 3)
	if got := maps.Collect(m.All()); !maps.Equal(got, map[string]int{"a": 3, "b": 2}) {
		t.Errorf("All = %v", got)
	}
	snap := m.All()
	m.DeleteFunc(func(k string, _ int) bool { return k == "a" })
	if _, ok := m.Load("a"); ok || m.Len() != 1 {
		t.Errorf("after DeleteFunc: a present %v, Len %d; want absent, 1", ok, m.Len())
	}
	if got := slices.Sorted(maps.Keys(maps.Collect(snap))); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("an All taken before the delete yields %v, want [a b]: snapshots are immutable", got)
	}
}

func TestLimitStopsGrowth(t *testing.T) {
	m := cowmap.Map[int, int]{Limit: 3}
	for i := range 10 {
		if v := m.LoadOrMake(i, func() int { return i * 10 }); v != i*10 {
			t.Fatalf("LoadOrMake(%d) = %d, want %d", i, v, i*10)
		}
	}
	if n := m.Len(); n != 3 {
		t.Errorf("Len = %d after 10 keys, want the limit 3", n)
	}
}

// Concurrent makers of one key get one value; readers never see a torn
// map (run with -race).
func TestConcurrentLoadOrMake(t *testing.T) {
	var m cowmap.Map[int, *int]
	var wg sync.WaitGroup
	got := make([]*int, 8)
	for g := range got {
		wg.Go(func() {
			for k := range 100 {
				p := m.LoadOrMake(k, func() *int { v := k; return &v })
				if *p != k {
					t.Errorf("key %d holds %d", k, *p)
				}
				if k == 50 {
					got[g] = p
				}
			}
		})
	}
	wg.Wait()
	for _, p := range got[1:] {
		if p != got[0] {
			t.Fatal("two goroutines got different values for one key")
		}
	}
	if m.Len() != 100 {
		t.Errorf("Len = %d, want 100", m.Len())
	}
}

func TestLoadDoesNotAllocate(t *testing.T) {
	var m cowmap.Map[string, *int]
	v := 1
	m.Store("key", &v)
	if n := testing.AllocsPerRun(100, func() { m.Load("key") }); n != 0 {
		t.Errorf("Load allocates %v times, want 0", n)
	}
}

func ExampleMap() {
	var lengths cowmap.Map[string, int]
	n := lengths.LoadOrMake("hello", func() int { return len("hello") })
	_, ok := lengths.Load("hello")
	fmt.Println(n, ok)
	// Output: 5 true
}
