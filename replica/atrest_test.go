package replica_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/duohuo/duohuo/gm"
	"github.com/duohuo/duohuo/replica"
)

// The SM4-GCM key ring is a Sealer.
var _ replica.Sealer = (*gm.KeyRing)(nil)

const (
	atRestKey1 = "1:000102030405060708090a0b0c0d0e0f"
	atRestKey2 = "2:f0e0d0c0b0a090807060504030201000"
)

func keyRing(t testing.TB, text string) *gm.KeyRing {
	t.Helper()
	r, err := gm.ParseKeyRing(text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openSealed(t *testing.T, dir string, ring replica.Sealer, edit ...func(*replica.Config)) (*replica.Store, *lockedBuffer) {
	t.Helper()
	var logs lockedBuffer
	cfg := replica.Config{Name: "site", Dir: dir, AtRest: ring, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, e := range edit {
		e(&cfg)
	}
	s, err := replica.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%s) with keys = %v", dir, err)
	}
	return s, &logs
}

// storeFile returns the bytes of the store file in dir, for grepping.
func storeFile(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "replica.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealedRecords counts the values of objects/ and log/ in a closed store
// file that are sealed (their first byte is the seal mark, 0) and under
// which key id, and those that are clear.
func sealedRecords(t *testing.T, dir string) (byKey map[uint8]int, clear int) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "replica.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	byKey = map[uint8]int{}
	db.View(func(tx *bolt.Tx) error {
		for _, b := range []string{"objects", "log"} {
			tx.Bucket([]byte(b)).ForEach(func(k, v []byte) error {
				if len(v) > 0 && v[0] == 0 {
					id, err := gm.SealedKeyID(v[1:])
					if err != nil {
						t.Errorf("%s/%x: sealed value does not parse: %v", b, k, err)
					}
					byKey[id]++
				} else {
					clear++
				}
				return nil
			})
		}
		return nil
	})
	return byKey, clear
}

// Values written with keys are on disk only sealed: neither the log
// entries (fsynced before each write is acknowledged) nor the checkpointed
// objects contain them, and they read back after reopening.
func TestAtRestValuesNeverReachTheDiskClear(t *testing.T) {
	dir := t.TempDir()
	ring := keyRing(t, atRestKey1)
	s, _ := openSealed(t, dir, ring, func(c *replica.Config) { c.CheckpointEvery = 50 })
	for i := range 120 { // two checkpoints and a log
		put(t, s, "kv", fmt.Sprintf("k%d", i), fmt.Sprintf("plaintext-value-%03d", i))
	}
	if err := s.Update(context.Background(), "hits", func(tx *replica.Txn) error { tx.Add(7); return nil }); err != nil {
		t.Fatal(err)
	}
	if b := storeFile(t, dir); bytes.Contains(b, []byte("plaintext-value-")) {
		t.Fatal("the open store's file holds a written value in clear")
	}
	want := s.Digest()
	s.Close()
	if b := storeFile(t, dir); bytes.Contains(b, []byte("plaintext-value-")) {
		t.Fatal("the closed store's file holds a written value in clear")
	}
	if byKey, clear := sealedRecords(t, dir); clear != 0 || byKey[1] == 0 {
		t.Fatalf("records: sealed %v, clear %d; want all sealed with key 1", byKey, clear)
	}
	s, _ = openSealed(t, dir, ring)
	defer s.Close()
	if s.Digest() != want || len(s.Quarantined()) != 0 {
		t.Fatalf("reopened: digest differs or quarantined %v", s.Quarantined())
	}
	if v, ok := getMap(t, s, "kv").Get("k119"); !ok || string(v) != "plaintext-value-119" {
		t.Fatalf("k119 = %q, %v after reopening", v, ok)
	}
}

// A store written without encryption opens with it: the clear records
// load, and the store seals them again at once, so that after the open
// every record is sealed.
func TestAtRestClearStoreOpensWithKeys(t *testing.T) {
	dir := t.TempDir()
	s := openAlone(t, dir)
	put(t, s, "kv", "old", "written-clear")
	s.Close()
	s = openAlone(t, dir)
	put(t, s, "kv", "older", "written-clear-too")
	s.Close()
	if _, clear := sealedRecords(t, dir); clear == 0 {
		t.Fatal("no clear records before encryption is on")
	}

	s, logs := openSealed(t, dir, keyRing(t, atRestKey1))
	m := getMap(t, s, "kv")
	if v, _ := m.Get("old"); string(v) != "written-clear" {
		t.Fatalf("a clear record read with keys on: %q", v)
	}
	put(t, s, "kv", "new", "written-sealed")
	s.Close()
	if !strings.Contains(logs.String(), "now sealed with the active key") {
		t.Errorf("no log line about sealing the clear records:\n%s", logs)
	}
	if byKey, clear := sealedRecords(t, dir); clear != 0 || byKey[1] == 0 {
		t.Fatalf("after one open with keys: sealed %v, clear %d; want every record sealed with key 1", byKey, clear)
	}
	s, _ = openSealed(t, dir, keyRing(t, atRestKey1))
	defer s.Close()
	m = getMap(t, s, "kv")
	for k, want := range map[string]string{"old": "written-clear", "older": "written-clear-too", "new": "written-sealed"} {
		if v, _ := m.Get(k); string(v) != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}

// Rotation: a ring with a new active key opens what the old key sealed,
// seals it again with the new key, and the old key can then be removed.
func TestAtRestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSealed(t, dir, keyRing(t, atRestKey1))
	put(t, s, "kv", "a", "sealed-with-1")
	s.Close()

	s, _ = openSealed(t, dir, keyRing(t, atRestKey1+"\n"+atRestKey2)) // 2 is active
	if v, _ := getMap(t, s, "kv").Get("a"); string(v) != "sealed-with-1" {
		t.Fatalf("a record of the previous key: %q", v)
	}
	put(t, s, "kv", "b", "sealed-with-2")
	s.Close()
	if byKey, clear := sealedRecords(t, dir); clear != 0 || byKey[1] != 0 || byKey[2] == 0 {
		t.Fatalf("after the rotation: sealed %v, clear %d; want all with key 2", byKey, clear)
	}

	s, _ = openSealed(t, dir, keyRing(t, atRestKey2)) // key 1 retired
	defer s.Close()
	if q := s.Quarantined(); len(q) != 0 {
		t.Fatalf("with key 1 removed: quarantined %v", q)
	}
	m := getMap(t, s, "kv")
	if a, _ := m.Get("a"); string(a) != "sealed-with-1" {
		t.Fatalf("after retiring key 1: a = %q", a)
	}
}

// A record whose key is not in the ring, or whose tag fails, is
// quarantined: the store opens, the rest loads, the record is kept aside
// byte for byte and reported.
func TestAtRestUnopenableRecordsAreQuarantined(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSealed(t, dir, keyRing(t, atRestKey1))
	put(t, s, "kv", "a", "1")
	put(t, s, "other", "b", "2")
	put(t, s, "third", "c", "3")
	s.Close()

	// Flip a ciphertext bit of one object, and move another's sealed value
	// to a third name: both fail their tag.
	db, err := bolt.Open(filepath.Join(dir, "replica.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var flipped []byte
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("objects"))
		flipped = bytes.Clone(b.Get([]byte("other")))
		flipped[len(flipped)-1] ^= 1
		b.Put([]byte("moved"), bytes.Clone(b.Get([]byte("third"))))
		return b.Put([]byte("other"), flipped)
	})
	db.Close()

	s, logs := openSealed(t, dir, keyRing(t, atRestKey1))
	if v, _ := getMap(t, s, "kv").Get("a"); string(v) != "1" {
		t.Fatalf("the intact record: %q", v)
	}
	if _, err := s.Get("third"); err != nil {
		t.Fatalf("the record whose value was copied elsewhere: %v", err)
	}
	q := s.Quarantined()
	if len(q) != 2 {
		t.Fatalf("quarantined %+v, want objects/other and objects/moved", q)
	}
	for _, r := range q {
		if r.Record != "objects/other" && r.Record != "objects/moved" || !strings.Contains(r.Error, "sealed value does not open") {
			t.Errorf("quarantined %+v", r)
		}
	}
	if !strings.Contains(logs.String(), "record quarantined") {
		t.Errorf("no log line for the quarantined records:\n%s", logs)
	}
	s.Close()

	// A ring without key 1: every record of key 1 is quarantined, and the
	// store still opens and takes writes.
	s, _ = openSealed(t, dir, keyRing(t, atRestKey2))
	defer s.Close()
	var unknown int
	for _, r := range s.Quarantined() {
		if strings.Contains(r.Error, "not in the key ring") {
			unknown++
		}
	}
	if unknown != 2 { // kv and third; other and moved were already aside
		t.Fatalf("with key 1 missing: %d records quarantined for the missing key, want 2 (%+v)", unknown, s.Quarantined())
	}
	put(t, s, "kv", "after", "x")
}

// Without keys, a file with sealed records does not open, and is left as
// it was for the open with the right keys.
func TestAtRestSealedStoreWithoutKeys(t *testing.T) {
	dir := t.TempDir()
	s, _ := openSealed(t, dir, keyRing(t, atRestKey1))
	put(t, s, "kv", "a", "1")
	s.Close()
	_, err := replica.Open(context.Background(), replica.Config{Name: "site", Dir: dir})
	if !errors.Is(err, replica.ErrNoKeys) {
		t.Fatalf("Open without keys = %v, want ErrNoKeys", err)
	}
	s, _ = openSealed(t, dir, keyRing(t, atRestKey1))
	defer s.Close()
	if v, _ := getMap(t, s, "kv").Get("a"); string(v) != "1" || len(s.Quarantined()) != 0 {
		t.Fatalf("after the refused open: a = %q, quarantined %v", v, s.Quarantined())
	}
}
