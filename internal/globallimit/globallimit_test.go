package globallimit

import (
	"fmt"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"1733342400 523":         "1733342400 523 <nil>",
		"1733342400 0":           "1733342400 0 <nil>",
		"1733342400":             "error",
		"x 1":                    "error",
		"1 -4":                   "error",
		"1 99999999999999999999": "error",
		"":                       "error",
	} {
		w, n, err := parse([]byte(in))
		got := fmt.Sprintf("%d %d %v", w, n, err)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("parse(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzParse: what another site wrote never crashes the reader, and what
// parses prints back the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1733342400 523", "0 0", "1 -1", "a b", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, n, err := parse(b)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parse(%q) gave a negative count %d", b, n)
		}
		if w2, n2, err := parse(fmt.Appendf(nil, "%d %d", w, n)); err != nil || w2 != w || n2 != n {
			t.Fatalf("round trip of %q: %d %d %v", b, w2, n2, err)
		}
	})
}
