package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/duohuo/duohuo/audit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func rec(i int) audit.Record {
	return audit.Record{
		Time:          t0.Add(time.Duration(i) * time.Millisecond),
		Method:        "/etcdserverpb.KV/Put",
		Key:           fmt.Sprintf("/config/k%d", i),
		Principal:     "svc-a",
		Outcome:       "OK",
		LatencyMicros: int64(100 + i),
		Revision:      int64(i + 1),
	}
}

// writeLog writes n records to a new log in a temp dir and returns the
// file's path and the Log's final head.
func writeLog(t testing.TB, n int, opts audit.Options) (string, audit.Head) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !l.Append(rec(i)) {
			t.Fatalf("Append(%d) dropped", i)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Written != uint64(n) || s.Dropped != 0 {
		t.Fatalf("Stats() = %+v, want %d written, none dropped", s, n)
	}
	return path, l.Head()
}

func verifyFile(t testing.TB, path string, opts audit.VerifyOptions) (audit.Report, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return audit.Verify(f, opts)
}

func TestLogWritesAVerifiableChain(t *testing.T) {
	dir := t.TempDir()
	headFile := filepath.Join(dir, "head.json")
	path := filepath.Join(dir, "audit.jsonl")
	l, err := audit.Open(path, audit.Options{HeadFile: headFile})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		l.Append(rec(i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyFile(t, path, audit.VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 100 || rep.Head != l.Head() || rep.Head.Seq != 100 {
		t.Errorf("Verify = %+v, want 100 records ending at Log.Head() %+v", rep, l.Head())
	}
	anchor, err := audit.ReadHeadFile(headFile)
	if err != nil || anchor != rep.Head {
		t.Errorf("ReadHeadFile = %+v, %v; want %+v", anchor, err, rep.Head)
	}
	// Records keep what was appended.
	f, _ := os.Open(path)
	defer f.Close()
	r := audit.NewReader(f, nil)
	got, _, err := r.Next()
	want := rec(0)
	want.Seq, want.Prev = 1, audit.ZeroHash
	if err != nil || !got.Time.Equal(want.Time) || got.Key != want.Key || got.Seq != 1 || got.Prev != audit.ZeroHash || got.Revision != 1 {
		t.Errorf("first record = %+v, %v; want %+v", got, err, want)
	}
}

func TestReopenContinuesTheChain(t *testing.T) {
	path, head := writeLog(t, 3, audit.Options{})
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Head() != head {
		t.Errorf("Head() after reopen = %+v, want %+v", l.Head(), head)
	}
	l.Append(rec(3))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := verifyFile(t, path, audit.VerifyOptions{Anchor: head})
	if err != nil || rep.Records != 4 {
		t.Errorf("Verify after reopen = %+v, %v; want 4 records", rep, err)
	}
}

func TestOpenRefusesABrokenLog(t *testing.T) {
	path, _ := writeLog(t, 3, audit.Options{})
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("/config/k1"), []byte("/config/kX"), 1), 0o600)
	_, err := audit.Open(path, audit.Options{})
	var ce *audit.ChainError
	if !errors.As(err, &ce) || ce.Record != 2 || !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("Open(edited log) = %v, want a ChainError at record 2 wrapping ErrTampered", err)
	}
}

func TestAppendNeverBlocksAndCountsDrops(t *testing.T) {
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	first := true
	restore := audit.SetTestHookBatch(func() {
		if first {
			first = false
			entered <- struct{}{}
			<-hold
		}
	})
	defer restore()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, audit.Options{QueueLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	<-entered // the writer is held before its first batch
	var queued, dropped int
	for i := range 10 {
		if l.Append(rec(i)) {
			queued++
		} else {
			dropped++
		}
	}
	if queued != 4 || dropped != 6 {
		t.Errorf("with the writer held and a queue of 4: %d queued, %d dropped; want 4, 6", queued, dropped)
	}
	close(hold)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Append(rec(99)) {
		t.Error("Append after Close = true, want false")
	}
	want := audit.Stats{Written: 4, Dropped: 7}
	if s := l.Stats(); s != want {
		t.Errorf("Stats() = %+v, want %+v", s, want)
	}
	if rep, err := verifyFile(t, path, audit.VerifyOptions{}); err != nil || rep.Records != 4 {
		t.Errorf("Verify = %+v, %v; want the 4 queued records, unbroken", rep, err)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	l, err := audit.Open(filepath.Join(t.TempDir(), "a.jsonl"), audit.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenErrorsNameThePlace(t *testing.T) {
	_, err := audit.Open(filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), audit.Options{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "audit: open log") {
		t.Errorf("Open in a missing dir = %v, want a wrapped ErrNotExist", err)
	}
}

func TestOpenMendsATornLastLineAndSaysSo(t *testing.T) {
	path, head := writeLog(t, 3, audit.Options{})
	intact, _ := os.ReadFile(path)
	torn := append(bytes.Clone(intact), `{"seq":4,"time":"2026-11-26T12:00:00Z","method":"/etcd`...)
	os.WriteFile(path, torn, 0o600)

	_, err := verifyFile(t, path, audit.VerifyOptions{})
	var ce *audit.ChainError
	if !errors.As(err, &ce) || !errors.Is(err, audit.ErrTorn) || !errors.Is(err, audit.ErrMalformed) ||
		ce.Record != 4 || ce.Line != 4 || ce.Offset != int64(len(intact)) {
		t.Fatalf("Verify(torn) = %v (%+v), want ErrTorn at record 4, line 4, offset %d", err, ce, len(intact))
	}

	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatalf("Open(torn) = %v, want the torn line removed", err)
	}
	// Head is the chain's head after the last batch written: the intact
	// chain's, or the repair record's once the writer has written it (it
	// runs on its own goroutine). Never the torn record's.
	if h := l.Head(); h != head && h.Seq != head.Seq+1 {
		t.Errorf("Head() after the repair = %+v, want the intact chain's %+v or the repair record after it", h, head)
	}
	l.Append(rec(4))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if rep, err := audit.Verify(f, audit.VerifyOptions{Anchor: head}); err != nil || rep.Records != 5 {
		t.Fatalf("Verify after the repair = %+v, %v; want 5 records", rep, err)
	}
	rest, _ := os.ReadFile(path)
	repairLine := string(rest[len(intact):])
	if !strings.Contains(repairLine, audit.RepairMethod) || !strings.Contains(repairLine, "removed a torn last line (record 4, line 4)") {
		t.Errorf("record after the intact chain = %q, want a %s record saying what was removed", repairLine, audit.RepairMethod)
	}
}
