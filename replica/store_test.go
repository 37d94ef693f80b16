package replica_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

func openAlone(t *testing.T, dir string) *replica.Store {
	t.Helper()
	s, err := replica.Open(context.Background(), replica.Config{Name: "site", Dir: dir})
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	return s
}

func put(t *testing.T, s *replica.Store, obj, k, v string) {
	t.Helper()
	if err := s.Update(context.Background(), obj, func(tx *replica.Txn) error { tx.Put(k, []byte(v)); return nil }); err != nil {
		t.Fatalf("Update(%s: put %s=%s) = %v", obj, k, v, err)
	}
}

func getMap(t *testing.T, s *replica.Store, obj string) *crdt.ORMap {
	t.Helper()
	o, err := s.Get(obj)
	if err != nil {
		t.Fatalf("Get(%s) = %v", obj, err)
	}
	return o.(*crdt.ORMap)
}

func TestUpdateIsDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openAlone(t, dir)
	id := s.Replica()
	put(t, s, "kv", "a", "1")
	put(t, s, "kv", "b", "2")
	if err := s.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Delete("a"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), "hits", func(tx *replica.Txn) error { tx.Add(5); tx.Add(-2); return nil }); err != nil {
		t.Fatal(err)
	}
	want := s.Digest()
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}

	s = openAlone(t, dir)
	defer s.Close()
	if s.Digest() != want {
		t.Errorf("state after reopen differs from state before close")
	}
	if s.Replica() != id {
		t.Errorf("Replica() after a clean close = %v, want %v kept", s.Replica(), id)
	}
	m := getMap(t, s, "kv")
	if _, ok := m.Get("a"); ok || m.Len() != 1 {
		t.Errorf("kv after reopen = %v, want only b", m.Keys())
	}
	c, _ := s.Get("hits")
	if got := c.(*crdt.PNCounter).Value(); got != 3 {
		t.Errorf("hits after reopen = %d, want 3", got)
	}
}

func TestCheckpointThenLogRecovery(t *testing.T) {
	dir := t.TempDir()
	s, err := replica.Open(context.Background(), replica.Config{Name: "site", Dir: dir, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		put(t, s, "kv", string(rune('a'+i)), "v")
	}
	want := s.Digest()
	s.Close()
	s = openAlone(t, dir)
	defer s.Close()
	if s.Digest() != want || getMap(t, s, "kv").Len() != 10 {
		t.Errorf("after checkpoints every 3 writes and reopen: %d keys, want 10 and the same digest", getMap(t, s, "kv").Len())
	}
}

func TestUpdate(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		fn      func(tx *replica.Txn) error
		wantErr error
		wantLen int // keys in "kv" afterwards (it starts with one)
	}{
		{"mutations apply when fn returns nil", func(tx *replica.Txn) error { tx.Put("x", nil); tx.Put("y", nil); return nil }, nil, 3},
		{"nothing applies when fn returns an error", func(tx *replica.Txn) error { tx.Put("x", nil); return errBoom }, errBoom, 1},
		{"a mutator of another kind is refused and nothing applies", func(tx *replica.Txn) error { tx.Put("x", nil); tx.Add(1); return nil }, crdt.ErrKind, 1},
		{"reads see the state before the update", func(tx *replica.Txn) error {
			if tx.Object().(*crdt.ORMap).Len() != 1 || tx.Key() != "kv" {
				return errBoom
			}
			tx.Put("x", nil)
			return nil
		}, nil, 2},
		{"an update with no mutation is a no-op", func(tx *replica.Txn) error { return nil }, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openAlone(t, t.TempDir())
			defer s.Close()
			put(t, s, "kv", "seed", "")
			err := s.Update(context.Background(), "kv", tt.fn)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update() error = %v, want %v", err, tt.wantErr)
			}
			if got := getMap(t, s, "kv").Len(); got != tt.wantLen {
				t.Errorf("kv has %d keys, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestUpdateErrors(t *testing.T) {
	s := openAlone(t, t.TempDir())
	if err := s.Update(context.Background(), "", func(*replica.Txn) error { return nil }); err == nil {
		t.Errorf("Update with an empty name = nil, want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Update(ctx, "kv", func(tx *replica.Txn) error { tx.Put("a", nil); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := s.Get("missing"); !errors.Is(err, replica.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	s.Close()
	if err := s.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Put("a", nil); return nil }); !errors.Is(err, replica.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  replica.Config
	}{
		{"no name", replica.Config{Dir: dir}},
		{"no dir", replica.Config{Name: "a"}},
		{"a secret key of 10 bytes", replica.Config{Name: "a", Dir: dir, SecretKey: make([]byte, 10)}},
		{"a port out of range", replica.Config{Name: "a", Dir: dir, BindPort: 70000}},
		{"old keys without a secret key", replica.Config{Name: "a", Dir: dir, OldKeys: [][]byte{make([]byte, 16)}}},
		{"an old key of 5 bytes", replica.Config{Name: "a", Dir: dir, SecretKey: make([]byte, 16), OldKeys: [][]byte{make([]byte, 5)}}},
		{"an unknown network preset", replica.Config{Name: "a", Dir: dir, Network: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := replica.Open(context.Background(), tt.cfg); err == nil {
				s.Close()
				t.Errorf("Open(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

func TestWatch(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	put(t, s, "gray/a", "k", "1")
	put(t, s, "other", "k", "1")
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Watch(ctx, "gray/")
	next := func() replica.Event {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed early")
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no watch event within 5s")
		}
		return replica.Event{}
	}
	if ev := next(); ev.Key != "gray/a" {
		t.Errorf("first event = %q, want the existing gray/a", ev.Key)
	}
	put(t, s, "other", "k", "2") // not under the prefix
	put(t, s, "gray/b", "k", "2")
	ev := next()
	if v, _ := ev.Object.(*crdt.ORMap).Get("k"); ev.Key != "gray/b" || string(v) != "2" {
		t.Errorf("event = %q with k=%q, want gray/b with k=2", ev.Key, v)
	}
	cancel()
	for range ch { // drains, then the channel closes
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := replica.Open(context.Background(), replica.Config{Name: "a", Dir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "kv", "a", "1")
	put(t, s, "kv", "b", "1")
	if n, err := testutil.GatherAndCount(reg, "duohuo_replica_writes_total"); err != nil || n != 1 {
		t.Fatalf("duohuo_replica_writes_total series = %d, %v", n, err)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "duohuo_replica_writes_total" && mf.GetMetric()[0].GetCounter().GetValue() != 2 {
			t.Errorf("duohuo_replica_writes_total = %v, want 2", mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
}

func TestPanicInUpdateLeavesStoreUsable(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("the panic in fn did not reach the caller")
			}
		}()
		s.Update(context.Background(), "kv", func(tx *replica.Txn) error { tx.Put("a", nil); panic("boom") })
	}()
	put(t, s, "kv", "b", "1")
	if m := getMap(t, s, "kv"); m.Len() != 1 {
		t.Errorf("kv = %v, want only b (the panicking update applied nothing)", m.Keys())
	}
}

func TestReadSeesTheObjectWithoutCopying(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	put(t, s, "kv", "a", "1")
	var got string
	if err := s.Read("kv", func(o crdt.Object) error {
		v, _ := o.(*crdt.ORMap).Get("a")
		got = string(v)
		return nil
	}); err != nil || got != "1" {
		t.Errorf("Read(kv) = %v, a=%q; want nil, 1", err, got)
	}
	if err := s.Read("none", func(crdt.Object) error { return nil }); !errors.Is(err, replica.ErrNotFound) {
		t.Errorf("Read(none) = %v, want ErrNotFound", err)
	}
}
