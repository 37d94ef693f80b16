package audit_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/audit"
)

// lines splits a log into its lines, each with its newline.
func lines(b []byte) [][]byte {
	var ls [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		ls = append(ls, b[:i+1])
		b = b[i+1:]
	}
	return ls
}

func join(ls ...[]byte) []byte { return bytes.Join(ls, nil) }

// rehash recomputes line's hash after an edit, as a forger without a key
// would; it relies on the documented format.
func rehash(t *testing.T, line []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(line, []byte(`,"hash":"`))
	body := append(append([]byte{}, line[:i]...), '}')
	sum := sm3hex(body)
	return []byte(string(line[:i]) + `,"hash":"` + sum + "\"}\n")
}

func TestVerifyDetectsTampering(t *testing.T) {
	path, head := writeLog(t, 6, audit.Options{})
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := lines(orig)
	edited := bytes.Replace(ls[2], []byte("/config/k2"), []byte("/config/kX"), 1)
	tests := []struct {
		name       string
		data       []byte
		opts       audit.VerifyOptions
		wantErr    error
		wantRecord uint64
		wantLine   int
	}{
		{"edited record is named", join(ls[0], ls[1], edited, ls[3], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrTampered, 3, 3},
		{"edited record with a recomputed hash breaks the next link", join(ls[0], ls[1], rehash(t, edited), ls[3], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrTampered, 4, 4},
		{"removed record", join(ls[0], ls[1], ls[3], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrMissing, 3, 3},
		{"removed first record", join(ls[1], ls[2], ls[3], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrMissing, 1, 1},
		{"reordered records", join(ls[0], ls[1], ls[3], ls[2], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrMissing, 3, 3},
		{"duplicated record", join(ls[0], ls[1], ls[2], ls[2], ls[3], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrMissing, 4, 4},
		{"record cut in the middle of the file", join(ls[0], ls[1], ls[2][:40], ls[3], ls[4], ls[5]), audit.VerifyOptions{}, audit.ErrMalformed, 3, 3},
		{"torn last line", join(ls[0], ls[1], ls[2], ls[3], ls[4], ls[5][:len(ls[5])-1]), audit.VerifyOptions{}, audit.ErrMalformed, 6, 6},
		{"empty line", join(ls[0], []byte("\n"), ls[1]), audit.VerifyOptions{}, audit.ErrMalformed, 2, 2},
		{"tail cut off, seen through the anchor", join(ls[0], ls[1], ls[2], ls[3]), audit.VerifyOptions{Anchor: head}, audit.ErrTruncated, 5, 0},
		{"whole file emptied, seen through the anchor", nil, audit.VerifyOptions{Anchor: head}, audit.ErrTruncated, 1, 0},
		{"chain rewritten from the start, seen through the anchor",
			join(rehash(t, bytes.Replace(ls[0], []byte("svc-a"), []byte("svc-b"), 1))), audit.VerifyOptions{Anchor: audit.Head{Seq: 1, Hash: head.Hash}}, audit.ErrTampered, 1, 1},
		{"wrong start for a continued file", orig, audit.VerifyOptions{Start: audit.Head{Seq: 0, Hash: strings.Repeat("ab", 32)}}, audit.ErrTampered, 1, 1},
		{"wrong key", orig, audit.VerifyOptions{Key: []byte("k")}, audit.ErrTampered, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := audit.Verify(bytes.NewReader(tt.data), tt.opts)
			var ce *audit.ChainError
			if !errors.As(err, &ce) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want a ChainError wrapping %v", err, tt.wantErr)
			}
			if ce.Record != tt.wantRecord || ce.Line != tt.wantLine {
				t.Errorf("Verify = %v: record %d line %d, want record %d line %d", err, ce.Record, ce.Line, tt.wantRecord, tt.wantLine)
			}
		})
	}
	t.Run("tail cut off without an anchor verifies as a shorter chain", func(t *testing.T) {
		rep, err := audit.Verify(bytes.NewReader(join(ls[0], ls[1], ls[2], ls[3])), audit.VerifyOptions{})
		if err != nil || rep.Records != 4 || rep.Head.Seq != 4 {
			t.Errorf("Verify = %+v, %v; want 4 records and no error", rep, err)
		}
	})
}

func TestKeyedChainResistsForgery(t *testing.T) {
	key := []byte("audit-key-0123456789")
	path, _ := writeLog(t, 3, audit.Options{Key: key})
	orig, _ := os.ReadFile(path)
	if _, err := audit.Verify(bytes.NewReader(orig), audit.VerifyOptions{Key: key}); err != nil {
		t.Fatalf("Verify with the key: %v", err)
	}
	ls := lines(orig)
	// A forger without the key recomputes a plain SM3 hash: detected.
	forged := rehash(t, bytes.Replace(ls[2], []byte("svc-a"), []byte("root"), 1))
	_, err := audit.Verify(bytes.NewReader(join(ls[0], ls[1], forged)), audit.VerifyOptions{Key: key})
	var ce *audit.ChainError
	if !errors.As(err, &ce) || ce.Record != 3 || !errors.Is(err, audit.ErrTampered) {
		t.Errorf("Verify(forged) = %v, want tampering at record 3", err)
	}
}

func TestReadHeadFileRejectsGarbage(t *testing.T) {
	for _, content := range []string{"", "{}", `{"seq": 1, "hash": "xyz"}`, `{"seq": 0, "hash": "` + audit.ZeroHash + `"}`} {
		p := t.TempDir() + "/head"
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := audit.ReadHeadFile(p); err == nil {
			t.Errorf("ReadHeadFile(%q) succeeded, want an error", content)
		}
	}
}
