package replica_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func logEntry(key string, o crdt.Object) []byte {
	b := binary.AppendUvarint(nil, uint64(len(key)))
	b = append(b, key...)
	b, _ = o.AppendBinary(b)
	return b
}

// Records that recovery cannot decode, written straight into a real store
// file, are quarantined: the store opens, the good data is there, the bad
// records are reported (Quarantined, the metric, the log) and kept byte
// for byte in the file's quarantine bucket, across reopens.
func TestUndecodableRecordsAreQuarantinedAndTheRestLoads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAlone(t, dir)
	put(t, s, "kv", "a", "1")
	if err := s.Update(ctx, "hits", func(tx *replica.Txn) error { tx.Add(5); return nil }); err != nil {
		t.Fatal(err)
	}
	want := s.Digest()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What an older version could write: a map key of 70,000 bytes in a
	// log entry, which the decoder refuses; and what a damaged disk
	// could: a checkpoint of garbage, a delta of another kind than its
	// object, an unparsable member list.
	long := crdt.NewORMap()
	long.Put(7, crdt.MakeTimestamp(1, 0), strings.Repeat("k", 70000), []byte("v"))
	var counter crdt.PNCounter
	counter.Add(7, 1)
	bad := map[string][]byte{
		"objects/broken":   {1, 6, 0xff, 0xff},
		"log/oversized":    logEntry("big", long),
		"log/another-kind": logEntry("kv", &counter),
		"meta/members":     {0x05, 0xff},
	}
	db, err := bolt.Open(filepath.Join(dir, "replica.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte("objects")).Put([]byte("broken"), bad["objects/broken"]); err != nil {
			return err
		}
		lg := tx.Bucket([]byte("log"))
		for _, k := range []string{"log/oversized", "log/another-kind"} {
			seq, _ := lg.NextSequence()
			if err := lg.Put(binary.BigEndian.AppendUint64(nil, seq), bad[k]); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("members"), bad["meta/members"])
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	s, err = replica.Open(ctx, replica.Config{Name: "site", Dir: dir, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open over undecodable records = %v, want it to open", err)
	}
	if s.Digest() != want {
		t.Error("the good data did not load as it was")
	}
	q := s.Quarantined()
	got := map[string]replica.Quarantined{}
	for _, r := range q {
		got[r.Record] = r
	}
	wantRecords := []struct{ record, object, err string }{
		{"objects/broken", "broken", "crdt: decode ormap"},
		{"log/0000000000000001", "big", "length 70000 exceeds limit 65536"},
		{"log/0000000000000002", "kv", "crdt: merge pncounter into ormap"},
		{"meta/members", "", "corrupt value"},
	}
	if len(q) != len(wantRecords) {
		t.Fatalf("Quarantined() = %+v, want %d records", q, len(wantRecords))
	}
	for _, w := range wantRecords {
		r, ok := got[w.record]
		if !ok || r.Object != w.object || !strings.Contains(r.Error, w.err) || r.Size == 0 || r.Time.IsZero() {
			t.Errorf("quarantined %s = %+v, want object %q, an error containing %q, a size and a time", w.record, r, w.object, w.err)
		}
		if !strings.Contains(logs.String(), "record="+w.record) {
			t.Errorf("the log does not name %s:\n%s", w.record, logs.String())
		}
	}
	if n := metric(t, reg, "duohuo_replica_quarantined_records"); n != 4 {
		t.Errorf("duohuo_replica_quarantined_records = %v, want 4", n)
	}
	// The store works on: a write to the map whose bad delta was set aside.
	put(t, s, "kv", "b", "2")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Kept in the file, byte for byte.
	db, err = bolt.Open(filepath.Join(dir, "replica.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	kept := map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		qb := tx.Bucket([]byte("quarantine"))
		if qb == nil {
			t.Fatal("no quarantine bucket in the store file")
		}
		return qb.ForEachBucket(func(k []byte) error {
			b := qb.Bucket(k)
			kept[string(b.Get([]byte("bucket")))+"/"+string(b.Get([]byte("key")))] = append([]byte(nil), b.Get([]byte("value"))...)
			return nil
		})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 4 || !bytes.Equal(kept["objects/broken"], bad["objects/broken"]) || !bytes.Equal(kept["meta/members"], bad["meta/members"]) ||
		!bytes.Equal(kept["log/"+string(binary.BigEndian.AppendUint64(nil, 1))], bad["log/oversized"]) ||
		!bytes.Equal(kept["log/"+string(binary.BigEndian.AppendUint64(nil, 2))], bad["log/another-kind"]) {
		t.Errorf("the quarantine bucket does not hold the 4 records unchanged: %d records", len(kept))
	}

	// Reopened, the store still reports them and quarantines nothing new.
	s = openAlone(t, dir)
	defer s.Close()
	if q := s.Quarantined(); len(q) != 4 {
		t.Errorf("after reopening, Quarantined() = %d records, want the same 4", len(q))
	}
	if v, ok := getMap(t, s, "kv").Get("b"); !ok || string(v) != "2" {
		t.Error("the write made after the quarantine did not reload")
	}
}
