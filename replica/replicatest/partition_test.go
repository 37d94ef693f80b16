package replicatest_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/duohuo/duohuo/replica/replicatest"
)

func TestPartition(t *testing.T) {
	tests := []struct {
		name string
		set  func(p *replicatest.Partition)
		want map[[2]string]bool // link -> blocked
	}{
		{"nothing is cut at first", func(*replicatest.Partition) {}, map[[2]string]bool{{"a", "b"}: false}},
		{"a cut is symmetric", func(p *replicatest.Partition) { p.Cut("a", "b") }, map[[2]string]bool{{"a", "b"}: true, {"b", "a"}: true, {"a", "c"}: false}},
		{"isolate cuts every listed link", func(p *replicatest.Partition) { p.Isolate("c", "a", "b") }, map[[2]string]bool{{"a", "c"}: true, {"c", "b"}: true, {"a", "b"}: false}},
		{"a blackhole blocks too", func(p *replicatest.Partition) { p.Blackhole("a", "b") }, map[[2]string]bool{{"b", "a"}: true}},
		{"a one-way cut blocks one direction", func(p *replicatest.Partition) { p.CutOneWay("a", "b") }, map[[2]string]bool{{"a", "b"}: true, {"b", "a"}: false}},
		{"a hold blocks both directions", func(p *replicatest.Partition) { p.Hold("a", "b") }, map[[2]string]bool{{"a", "b"}: true, {"b", "a"}: true}},
		{"heal all restores cuts and blackholes", func(p *replicatest.Partition) { p.Cut("a", "b"); p.Blackhole("a", "c"); p.HealAll() }, map[[2]string]bool{{"a", "b"}: false, {"a", "c"}: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := replicatest.NewPartition()
			tt.set(p)
			for link, want := range tt.want {
				if got := p.Blocked(link[0], link[1]); got != want {
					t.Errorf("Blocked(%s, %s) = %v, want %v", link[0], link[1], got, want)
				}
			}
		})
	}
}

func TestTransportDials(t *testing.T) {
	p := replicatest.NewPartition()
	a, err := replicatest.NewTransport(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown()
	b, err := replicatest.NewTransport(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	conn, err := a.DialTimeout(b.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial over an open link = %v", err)
	}
	conn.Close()
	select { // b's listener hands the accepted connection over
	case c := <-b.StreamCh():
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("b accepted no connection within 5s")
	}

	p.Cut(a.Addr(), b.Addr())
	if _, err := a.DialTimeout(b.Addr(), time.Second); !errors.Is(err, replicatest.ErrCut) {
		t.Errorf("dial over a cut link = %v, want ErrCut", err)
	}
	p.HealAll()
	p.Blackhole(a.Addr(), b.Addr())
	start := time.Now()
	if _, err := a.DialTimeout(b.Addr(), 50*time.Millisecond); !errors.Is(err, replicatest.ErrTimeout) || time.Since(start) < 50*time.Millisecond {
		t.Errorf("dial into a blackhole = %v after %v, want ErrTimeout after the 50ms timeout", err, time.Since(start))
	}
}

func TestHoldHangsUntilHealOrShutdown(t *testing.T) {
	p := replicatest.NewPartition()
	a, err := replicatest.NewTransport(p)
	if err != nil {
		t.Fatal(err)
	}
	const far = "127.0.0.1:1"
	p.Hold(a.Addr(), far)
	dial := func() chan error {
		done := make(chan error, 1)
		go func() {
			_, err := a.DialTimeout(far, time.Millisecond) // the timeout does not end a held dial
			done <- err
		}()
		return done
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	done := dial()
	wait("the dial to hang", func() bool { return p.Held() == 1 })
	p.HealAll()
	if err := <-done; !errors.Is(err, replicatest.ErrTimeout) {
		t.Errorf("held dial after HealAll = %v, want ErrTimeout", err)
	}
	p.Hold(a.Addr(), far)
	done = dial()
	wait("the dial to hang again", func() bool { return p.Held() == 1 })
	a.Shutdown()
	if err := <-done; !errors.Is(err, replicatest.ErrTimeout) {
		t.Errorf("held dial after Shutdown = %v, want ErrTimeout", err)
	}
	if p.Held() != 0 {
		t.Errorf("Held() = %d after every dial ended", p.Held())
	}
}

func ExamplePartition() {
	p := replicatest.NewPartition()
	p.Isolate("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003")
	fmt.Println(p.Blocked("127.0.0.1:7002", "127.0.0.1:7001"), p.Blocked("127.0.0.1:7002", "127.0.0.1:7003"))
	p.HealAll()
	fmt.Println(p.Blocked("127.0.0.1:7002", "127.0.0.1:7001"))
	// Output:
	// true false
	// false
}
