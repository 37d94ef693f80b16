package audit_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/gm"
)

const (
	auditKey1 = "1:000102030405060708090a0b0c0d0e0f"
	auditKey2 = "2:f0e0d0c0b0a090807060504030201000"
)

func ring(t testing.TB, text string) *gm.KeyRing {
	t.Helper()
	r, err := gm.ParseKeyRing(text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A sealed log holds no record's contents in clear, verifies without the
// keys (the chain covers the sealed form) and with them (every record
// opens), and reads back whole.
func TestSealedLogVerifiesWithAndWithoutKeys(t *testing.T) {
	keys := ring(t, auditKey1)
	path, head := writeLog(t, 5, audit.Options{AtRest: keys})
	data, _ := os.ReadFile(path)
	for _, clear := range []string{"/config/k", "svc-a", "etcdserverpb", `"outcome"`} {
		if bytes.Contains(data, []byte(clear)) {
			t.Fatalf("the sealed log holds %q in clear:\n%s", clear, data)
		}
	}
	if !bytes.Contains(data, []byte(`"key_id":1,"sealed":"`)) {
		t.Fatalf("no key id beside the sealed contents:\n%s", data)
	}
	for _, opts := range []audit.VerifyOptions{{}, {AtRest: keys}} {
		rep, err := verifyFile(t, path, opts)
		if err != nil || rep.Records != 5 || rep.Sealed != 5 || rep.Head != head {
			t.Fatalf("Verify(keys %v) = %+v, %v; want 5 sealed records, head %v", opts.AtRest != nil, rep, err, head)
		}
	}
	f, _ := os.Open(path)
	defer f.Close()
	rd := audit.NewReader(f, nil)
	for i := range 5 {
		r, _, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.Unseal(&r, keys); err != nil {
			t.Fatalf("Unseal record %d: %v", i+1, err)
		}
		want := rec(i)
		if r.Key != want.Key || r.Method != want.Method || r.Principal != want.Principal || r.Revision != want.Revision || r.LatencyMicros != want.LatencyMicros || !r.Time.Equal(want.Time) || r.KeyID != 1 || r.Sealed != nil {
			t.Fatalf("record %d unsealed = %+v, want the contents of %+v", i+1, r, want)
		}
	}
}

// The same log, changed: what verification reports with and without the
// keys.
func TestSealedLogTampering(t *testing.T) {
	keys := ring(t, auditKey1)
	path, _ := writeLog(t, 4, audit.Options{AtRest: keys})
	orig, _ := os.ReadFile(path)
	ls := lines(orig)

	// One ciphertext byte changed, the hash recomputed as a forger without
	// an HMAC key can: the chain breaks at the next link, and with the keys
	// the record itself fails to open.
	editSealed := func(line []byte, edit func([]byte)) []byte {
		i := bytes.Index(line, []byte(`"sealed":"`)) + len(`"sealed":"`)
		j := i + bytes.IndexByte(line[i:], '"')
		blob, err := base64.StdEncoding.DecodeString(string(line[i:j]))
		if err != nil {
			t.Fatal(err)
		}
		edit(blob)
		return join(line[:i], []byte(base64.StdEncoding.EncodeToString(blob)), line[j:])
	}
	flipped := editSealed(ls[1], func(b []byte) { b[len(b)-1] ^= 1 })
	// Record 3's sealed contents copied into record 2 (from its line),
	// rehashed: the place binding refuses them.
	i := bytes.Index(ls[2], []byte(`"sealed":"`))
	j := i + bytes.IndexByte(ls[2][i+10:], '"') + 11
	k := bytes.Index(ls[1], []byte(`"sealed":"`))
	l := k + bytes.IndexByte(ls[1][k+10:], '"') + 11
	moved := join(ls[1][:k], ls[2][i:j], ls[1][l:])
	keyID := bytes.Replace(ls[1], []byte(`"key_id":1`), []byte(`"key_id":2`), 1)
	for _, tc := range []struct {
		name       string
		data       []byte
		opts       audit.VerifyOptions
		wantErr    error
		wantRecord uint64
	}{
		{"a ciphertext byte changed, without keys", join(ls[0], flipped, ls[2], ls[3]), audit.VerifyOptions{}, audit.ErrTampered, 2},
		{"a ciphertext byte changed and rehashed, without keys", join(ls[0], rehash(t, flipped), ls[2], ls[3]), audit.VerifyOptions{}, audit.ErrTampered, 3},
		{"a ciphertext byte changed and rehashed, with keys", join(ls[0], rehash(t, flipped), ls[2], ls[3]), audit.VerifyOptions{AtRest: keys}, audit.ErrTampered, 2},
		{"contents moved from another record and rehashed, with keys", join(ls[0], rehash(t, moved), ls[2], ls[3]), audit.VerifyOptions{AtRest: keys}, audit.ErrTampered, 2},
		{"the key id changed and rehashed, with keys", join(ls[0], rehash(t, keyID), ls[2], ls[3]), audit.VerifyOptions{AtRest: keys}, audit.ErrTampered, 2},
		{"a ring without the key", orig, audit.VerifyOptions{AtRest: ring(t, auditKey2)}, audit.ErrKeyMissing, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.Verify(bytes.NewReader(tc.data), tc.opts)
			var ce *audit.ChainError
			if !errors.Is(err, tc.wantErr) || !errors.As(err, &ce) || ce.Record != tc.wantRecord {
				t.Fatalf("Verify = %v, want %v at record %d", err, tc.wantErr, tc.wantRecord)
			}
		})
	}
}

// Rotation: a log continued with a new active key holds records of both;
// a ring with both keys opens all, one with only the new key names the
// first record of the old one, and the chain verifies without keys.
func TestSealedLogKeyRotation(t *testing.T) {
	path, _ := writeLog(t, 2, audit.Options{AtRest: ring(t, auditKey1)})
	l, err := audit.Open(path, audit.Options{AtRest: ring(t, auditKey1+"\n"+auditKey2)})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(rec(2))
	l.Append(rec(3))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if n1, n2 := strings.Count(string(data), `"key_id":1`), strings.Count(string(data), `"key_id":2`); n1 != 2 || n2 != 2 {
		t.Fatalf("records of key 1: %d, of key 2: %d; want 2 and 2", n1, n2)
	}
	if rep, err := verifyFile(t, path, audit.VerifyOptions{AtRest: ring(t, auditKey1+"\n"+auditKey2)}); err != nil || rep.Sealed != 4 {
		t.Fatalf("with both keys: %+v, %v", rep, err)
	}
	if rep, err := verifyFile(t, path, audit.VerifyOptions{}); err != nil || rep.Records != 4 {
		t.Fatalf("without keys: %+v, %v", rep, err)
	}
	_, err = verifyFile(t, path, audit.VerifyOptions{AtRest: ring(t, auditKey2)})
	if ce, ok := errors.AsType[*audit.ChainError](err); !ok || !errors.Is(err, audit.ErrKeyMissing) || ce.Record != 1 {
		t.Fatalf("with key 1 retired: %v, want key missing at record 1", err)
	}
}

// A log that was clear and goes on sealed verifies as one chain; with
// keys, the clear records are checked as they are.
func TestClearThenSealedLog(t *testing.T) {
	path, _ := writeLog(t, 2, audit.Options{})
	l, err := audit.Open(path, audit.Options{AtRest: ring(t, auditKey1)})
	if err != nil {
		t.Fatal(err)
	}
	l.Append(rec(2))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyFile(t, path, audit.VerifyOptions{AtRest: ring(t, auditKey1)})
	if err != nil || rep.Records != 3 || rep.Sealed != 1 {
		t.Fatalf("Verify = %+v, %v; want 3 records, 1 sealed", rep, err)
	}
}

func TestUnsealRefuses(t *testing.T) {
	keys := ring(t, auditKey1)
	path, _ := writeLog(t, 1, audit.Options{AtRest: keys})
	f, _ := os.Open(path)
	defer f.Close()
	r, _, err := audit.NewReader(f, nil).Next()
	if err != nil {
		t.Fatal(err)
	}
	both := r
	both.Method = "/etcdserverpb.KV/Range"
	if err := audit.Unseal(&both, keys); !errors.Is(err, audit.ErrMalformed) {
		t.Errorf("a sealed record with clear contents too: %v, want ErrMalformed", err)
	}
	if err := audit.Unseal(&r, nil); !errors.Is(err, audit.ErrKeyMissing) {
		t.Errorf("no ring: %v, want ErrKeyMissing", err)
	}
	clear := rec(0)
	if err := audit.Unseal(&clear, nil); err != nil || clear.Method != rec(0).Method {
		t.Errorf("a clear record: %v, %+v", err, clear)
	}
}
