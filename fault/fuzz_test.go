package fault_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/duohuo/duohuo/fault"
)

// FuzzParseSpec checks that ParseSpec never panics, that every error is a
// *SpecError pointing inside the input, and that every accepted spec is
// valid and survives String → ParseSpec unchanged.
func FuzzParseSpec(f *testing.F) {
	for _, tt := range parseSpecTests {
		f.Add(tt.in)
	}
	for _, tt := range badSpecTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := fault.ParseSpec(s)
		if err != nil {
			var se *fault.SpecError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(s) {
				t.Fatalf("ParseSpec(%q) error %v: want a *SpecError with an offset in [0, %d]", s, err, len(s))
			}
			return
		}
		if err := sp.Validate(); err != nil {
			t.Fatalf("ParseSpec(%q) accepted an invalid spec: %v", s, err)
		}
		again, err := fault.ParseSpec(sp.String())
		if err != nil {
			t.Fatalf("ParseSpec(%q).String() = %q does not parse: %v", s, sp.String(), err)
		}
		if diff := cmp.Diff(sp, again); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", s, sp.String(), diff)
		}
	})
}

// FuzzParseTable checks that ParseTable never panics and that an accepted
// table marshals to JSON that parses back to the same table.
func FuzzParseTable(f *testing.F) {
	f.Add(`{"rules": []}`)
	f.Add(`{"max_active": 3, "rules": [{"name": "a", "host": "x.com", "path_prefix": "/p", "methods": ["GET"], "spec": "delay=1s@5%,abort=reset,header"}]}`)
	f.Add(`{"rules": [{"name": "b", "spec": {"delay": {"duration": "20ms", "percent": 1}, "abort": {"status": 503}}}]}`)
	f.Add(`{"rules": [{"name": "a", "spec": "delay=1s"}, {"name": "a", "spec": "delay=2s"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := fault.ParseTable([]byte(in))
		if err != nil {
			if !errors.Is(err, fault.ErrInvalidSpec) {
				t.Fatalf("ParseTable(%q) = %v, want ErrInvalidSpec", in, err)
			}
			return
		}
		out, err := json.Marshal(tb)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", tb, err)
		}
		again, err := fault.ParseTable(out)
		if err != nil {
			t.Fatalf("ParseTable(Marshal(ParseTable(%q)) = %s): %v", in, out, err)
		}
		if diff := cmp.Diff(tb, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip of %q (-first +second):\n%s", in, diff)
		}
	})
}
