package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The "abc" vector of GB/T 32905-2016, appendix A.1.
func TestSumFileStandardVector(t *testing.T) {
	p := filepath.Join(t.TempDir(), "abc")
	if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := sumFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
	if got != want {
		t.Errorf("sumFile(abc) = %s, want %s", got, want)
	}
}

func TestSumFileMissing(t *testing.T) {
	if _, err := sumFile(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("sumFile(missing) = nil error, want an error")
	}
}
