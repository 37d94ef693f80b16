package audit_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/duohuo/duohuo/audit"
	"github.com/duohuo/duohuo/gm"
)

// FuzzVerify feeds arbitrary bytes to the JSON-lines reader: it must not
// panic, and every failure must be a ChainError of a known kind.
func FuzzVerify(f *testing.F) {
	path, _ := writeLog(f, 3, audit.Options{})
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte("\n"))
	f.Add([]byte(`{"seq":1,"prev":"` + audit.ZeroHash + `","hash":"` + audit.ZeroHash + `"}` + "\n"))
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{})
		if err == nil {
			if rep.Records == 0 && len(data) != 0 {
				t.Fatalf("Verify(%q) accepted input with no records", data)
			}
			return
		}
		var ce *audit.ChainError
		if !errors.As(err, &ce) {
			t.Fatalf("Verify(%q) = %v, want a *ChainError", data, err)
		}
		for _, kind := range []error{audit.ErrTampered, audit.ErrMissing, audit.ErrMalformed, audit.ErrTruncated} {
			if errors.Is(err, kind) {
				return
			}
		}
		t.Fatalf("Verify(%q) = %v, of no known kind", data, err)
	})
}

// FuzzVerifyDetectsAnyByteChange checks the chain's promise: changing any
// one byte of a valid log makes Verify fail.
func FuzzVerifyDetectsAnyByteChange(f *testing.F) {
	path, _ := writeLog(f, 4, audit.Options{})
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint(0), byte(1))
	f.Add(uint(len(valid)/2), byte('x'))
	f.Add(uint(len(valid)-1), byte(' '))
	f.Fuzz(func(t *testing.T, pos uint, b byte) {
		data := bytes.Clone(valid)
		i := int(pos % uint(len(data)))
		if data[i] == b {
			return
		}
		data[i] = b
		if rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{}); err == nil {
			t.Fatalf("byte %d changed to %q: Verify accepted %d records", i, b, rep.Records)
		}
	})
}

// FuzzReader checks that Next never panics and ends.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := audit.NewReader(bytes.NewReader(data), nil)
		for range len(data) + 2 {
			_, _, err := r.Next()
			if err == io.EOF || (err != nil && !errors.Is(err, audit.ErrTampered)) {
				return
			}
		}
		t.Fatalf("Next did not end on %d bytes", len(data))
	})
}

// FuzzVerifySealed feeds changed sealed logs to Verify with the keys: it
// must not panic, every failure is a ChainError of a known kind, and a
// change to any byte is caught.
func FuzzVerifySealed(f *testing.F) {
	keys, _ := gm.ParseKeyRing("1:000102030405060708090a0b0c0d0e0f")
	path, _ := writeLog(f, 3, audit.Options{AtRest: keys})
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint(0), byte(1))
	f.Add(uint(len(valid)/2), byte('A'))
	f.Add(uint(40), byte('2'))
	f.Fuzz(func(t *testing.T, pos uint, b byte) {
		data := bytes.Clone(valid)
		i := int(pos % uint(len(data)))
		if data[i] == b {
			return
		}
		data[i] = b
		_, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{AtRest: keys})
		if err == nil {
			t.Fatalf("byte %d changed to %q: Verify with keys accepted it", i, b)
		}
		if _, ok := errors.AsType[*audit.ChainError](err); !ok {
			t.Fatalf("Verify = %v, want a *ChainError", err)
		}
	})
}
