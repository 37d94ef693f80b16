package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that no input makes Parse panic, that it returns either a
// Config or a non-empty, sorted Errors whose entries name the file, and that
// it is deterministic. Seeds: the examples, the table tests, and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, p := range examples {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, tt := range parseErrorCases {
		f.Add([]byte(tt.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, testEnv)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("parse returned cfg=%v and err=%v; want exactly one", cfg != nil, err)
		}
		cfg2, err2 := parse("fuzz.yaml", data, testEnv)
		if !cmp.Equal(cfg, cfg2) || (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("parse is not deterministic:\n%v\n%v", err, err2)
		}
		if err == nil {
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("parse error %v (%T) is not a non-empty Errors", err, err)
		}
		for i, e := range es {
			if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Col < 0 {
				t.Errorf("error %d = %#v; want File fuzz.yaml, a message and a place", i, e)
			}
			if i > 0 && (e.Line < es[i-1].Line || e.Line == es[i-1].Line && e.Col < es[i-1].Col) {
				t.Errorf("errors not sorted: %v before %v", es[i-1], e)
			}
		}
	})
}
