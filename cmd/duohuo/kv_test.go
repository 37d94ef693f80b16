package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

func TestKVCommands(t *testing.T) {
	st, err := replica.Open(context.Background(), replica.Config{Name: "cli", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(replica.Handler(st))
	t.Cleanup(srv.Close)

	steps := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"kv", "put", "gray/rules", "checkout", "10%"}, exitOK, ""},
		{[]string{"kv", "put", "gray/rules", "search", "50%"}, exitOK, ""},
		{[]string{"kv", "get", "gray/rules", "checkout"}, exitOK, "10%\n"},
		{[]string{"kv", "get", "gray/rules"}, exitOK, "checkout=10%\nsearch=50%\n"},
		{[]string{"kv", "del", "gray/rules", "checkout"}, exitOK, ""},
		{[]string{"kv", "get", "gray/rules", "checkout"}, exitRuntime, ""},
		{[]string{"kv", "incr", "hits", "5"}, exitOK, "hits pncounter 5\n"},
		{[]string{"kv", "incr", "hits", "--", "-7"}, exitOK, "hits pncounter -2\n"},
		{[]string{"kv", "incr", "hits", "many"}, exitUsage, ""},
		{[]string{"kv", "put", "gray/rules"}, exitUsage, ""},
		{[]string{"kv", "put", "hits", "k", "v"}, exitRuntime, ""}, // a map write to a counter
	}
	for _, s := range steps {
		var out, errb bytes.Buffer
		args := append([]string{"kv", "--admin", srv.URL}, s.args[1:]...)
		if code := run(args, &out, &errb); code != s.wantCode || out.String() != s.wantOut {
			t.Errorf("duohuo %s = exit %d, %q (stderr %q); want exit %d, %q", strings.Join(s.args, " "), code, out.String(), errb.String(), s.wantCode, s.wantOut)
		}
	}
}

func TestKVWatchPrintsChanges(t *testing.T) {
	st, err := replica.Open(context.Background(), replica.Config{Name: "cli", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(replica.Handler(st))
	t.Cleanup(srv.Close)
	if err := st.Update(context.Background(), "gray/rules", func(tx *replica.Txn) error { tx.Put("a", []byte("1")); return nil }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out syncBuffer
	c := &kvClient{admin: srv.URL, http: srv.Client()}
	done := make(chan error, 1)
	go func() { done <- c.watch(ctx, &out, "gray/") }()
	for !strings.Contains(out.String(), `gray/rules ormap {"a":"1"}`) {
		select {
		case err := <-done:
			t.Fatalf("watch ended early: %v, output %q", err, out.String())
		case <-ctx.Done():
			t.Fatalf("no event printed within 10s: %q", out.String())
		case <-time.After(10 * time.Millisecond): // polling a deadline-bounded wait
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch after cancel = %v, want nil", err)
	}
}

// corruptStore leaves a store in dir with a good map and one checkpointed
// object that does not decode, written straight into the file.
func corruptStore(t *testing.T, dir string) {
	t.Helper()
	st, err := replica.Open(context.Background(), replica.Config{Name: "cli", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(context.Background(), "gray/rules", func(tx *replica.Txn) error { tx.Put("a", []byte("1")); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "replica.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("objects")).Put([]byte("broken"), []byte{1, 6, 0xff})
	}); err != nil {
		t.Fatal(err)
	}
}

func TestKVStatusReportsQuarantinedRecords(t *testing.T) {
	dir := t.TempDir()
	corruptStore(t, dir)
	st, err := replica.Open(context.Background(), replica.Config{Name: "cli", Dir: dir})
	if err != nil {
		t.Fatalf("Open over a corrupt record = %v", err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(replica.Handler(st))
	t.Cleanup(srv.Close)

	var out, errb bytes.Buffer
	if code := run([]string{"kv", "--admin", srv.URL, "status"}, &out, &errb); code != exitOK {
		t.Fatalf("kv status = exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"site cli replica " + st.Replica().String() + " objects 1", "quarantined 1", `objects/broken object="broken" bytes=3`, "crdt: decode"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("kv status output does not contain %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"kv", "--admin", srv.URL, "status", "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("kv status --json = exit %d: %s", code, errb.String())
	}
	var st2 replica.StatusJSON
	if err := json.Unmarshal(out.Bytes(), &st2); err != nil || len(st2.Quarantined) != 1 || st2.Quarantined[0].Record != "objects/broken" {
		t.Errorf("kv status --json = %s (%v), want one quarantined record objects/broken", out.String(), err)
	}
}

// conflictStore leaves in dir a store whose object x is a counter (2), with
// a set delta for x born later in its log, as recovery finds one a peer
// sent: the open sets the set aside as a kind conflict.
func conflictStore(t *testing.T, dir string) {
	t.Helper()
	st, err := replica.Open(context.Background(), replica.Config{Name: "cli", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(context.Background(), "x", func(tx *replica.Txn) error { tx.Add(2); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	set := crdt.NewORSet()
	set.Add(9, "lost-not")
	enc, _ := set.AppendBinary(nil)
	entry := binary.AppendUvarint(nil, 1)
	entry = append(entry, 'x', 'b') // the object's name, then its birth
	entry = binary.BigEndian.AppendUint64(entry, uint64(crdt.MakeTimestamp(1<<47, 0)))
	entry = binary.BigEndian.AppendUint64(entry, 9)
	entry = append(entry, enc...)
	db, err := bolt.Open(filepath.Join(dir, "replica.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("log")).Put(binary.BigEndian.AppendUint64(nil, 1), entry)
	}); err != nil {
		t.Fatal(err)
	}
}

// A kind conflict is listed by kv status with the state kept aside.
func TestKVStatusReportsKindConflicts(t *testing.T) {
	dir := t.TempDir()
	conflictStore(t, dir)
	st, err := replica.Open(context.Background(), replica.Config{Name: "cli", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(replica.Handler(st))
	t.Cleanup(srv.Close)
	var out, errb bytes.Buffer
	if code := run([]string{"kv", "--admin", srv.URL, "status"}, &out, &errb); code != exitOK {
		t.Fatalf("kv status = exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"conflicts 1", `"x" is a pncounter`, "the orset created", "by replica 0000000000000009", `["lost-not"]`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("kv status output does not contain %q:\n%s", want, out.String())
		}
	}
}
