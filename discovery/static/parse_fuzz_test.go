package static_test

import (
	"errors"
	"testing"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/static"
)

// FuzzParse checks that Parse never panics, that a refusal is always a
// positioned *ParseError, and that whatever it accepts is valid and free of
// duplicates, which is what the aggregator requires; and that reading an
// "instances" file in pieces gives what reading it whole does.
func FuzzParse(f *testing.F) {
	for _, tt := range parseOK {
		f.Add([]byte(tt.in), tt.service != "")
	}
	for _, tt := range parseBad {
		f.Add([]byte(tt.in), tt.service != "")
	}
	f.Fuzz(func(t *testing.T, data []byte, one bool) {
		service := ""
		if one {
			service = "api"
		}
		got, err := static.Parse("f.yaml", data, service)
		if one {
			checkSplitAsWhole(t, data, service, false)
		}
		if err != nil {
			var pe *static.ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Col < 1 || pe.File != "f.yaml" {
				t.Fatalf("Parse(%q) = %v, want a positioned *ParseError", data, err)
			}
			return
		}
		if one && len(got) != 1 {
			t.Fatalf("Parse(%q, api) = %d services, want exactly api", data, len(got))
		}
		for svc, list := range got {
			if err := discovery.CheckService(svc); err != nil {
				t.Fatalf("Parse(%q) accepted service %q: %v", data, svc, err)
			}
			ids := map[string]bool{}
			for _, in := range list {
				if err := in.Validate(); err != nil {
					t.Fatalf("Parse(%q) accepted %+v: %v", data, in, err)
				}
				id := in.ID
				if id == "" {
					id = discovery.AddrID(in.Addr)
				}
				if ids[id] {
					t.Fatalf("Parse(%q) accepted duplicate id %q", data, id)
				}
				ids[id] = true
			}
		}
	})
}
