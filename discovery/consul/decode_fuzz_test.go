package consul

import (
	"errors"
	"net/netip"
	"testing"
)

// FuzzDecodeHealth checks that any answer body either is refused with
// ErrBadAnswer or turns into instances the aggregator accepts as a whole
// (valid, no address twice), with every left-out entry reported as
// ErrBadInstance; never a panic.
func FuzzDecodeHealth(f *testing.F) {
	f.Add([]byte(`[{"Node":{"Node":"n1","Address":"10.0.0.1","Datacenter":"dc1","Meta":{"zone":"a"}},"Service":{"ID":"api-1","Service":"api","Tags":["prod"],"Address":"","Port":8080,"Meta":{"version":"v2"},"Weights":{"Passing":10,"Warning":1}},"Checks":[{"CheckID":"serfHealth","Status":"passing"}]}]`))
	f.Add([]byte(`[{"Node":{"Address":"fd00::1"},"Service":{"Address":"10.0.0.1","Port":80,"Tags":["prod"]},"Checks":[{"Status":"warning"}]},{"Service":{"Address":"::ffff:10.0.0.1","Port":80,"Tags":["prod"]}}]`))
	f.Add([]byte(`[{"Service":{"Address":"a.example","Port":80}},{"Service":{"Address":"10.0.0.1","Port":0}},{"Service":{"Address":"10.0.0.2","Port":70000}},{"Service":{"Address":"10.0.0.3","Port":1,"Weights":{"Passing":9223372036854775807,"Warning":-1}},"Checks":[{"Status":"critical"}]}]`))
	f.Add([]byte(`[{"Service":{"Address":"10.0.0.1","Port":80,"Meta":{"":"x","k\u0001":"v"},"Tags":["prod"]},"Node":{"Meta":{"cloud":"a/b"}}}]`))
	f.Add([]byte(`[1,"x",null,{"Service":{"Address":"fe80::1%eth0","Port":80}}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"Service":`))
	s, err := NewSource(Config{Service: "api", Tags: []string{"prod"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ans, err := decodeHealth(body)
		if err != nil {
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("decodeHealth(%q) = %v, want ErrBadAnswer", body, err)
			}
			return
		}
		l := s.convert(ans)
		if l.instances == nil {
			t.Fatalf("convert(%q): nil instances, want an empty list", body)
		}
		seen := map[netip.AddrPort]bool{}
		for _, in := range l.instances {
			if err := in.Validate(); err != nil {
				t.Fatalf("convert(%q) produced %+v: %v", body, in, err)
			}
			k := netip.AddrPortFrom(in.Addr.Addr().Unmap(), in.Addr.Port())
			if seen[k] {
				t.Fatalf("convert(%q) produced %s twice", body, in.Addr)
			}
			seen[k] = true
		}
		for _, e := range l.bad {
			if !errors.Is(e, ErrBadInstance) {
				t.Fatalf("convert(%q) left an entry out with %v, want ErrBadInstance", body, e)
			}
		}
	})
}

// FuzzNextIndex checks the blocking-query index rules for any pair of
// indexes: the next index is never 0, follows an index that did not go
// backwards, and is 1 after one that did.
func FuzzNextIndex(f *testing.F) {
	f.Add(uint64(0), uint64(0))
	f.Add(uint64(52), uint64(3))
	f.Add(uint64(3), uint64(52))
	f.Fuzz(func(t *testing.T, prev, got uint64) {
		n := nextIndex(prev, got)
		switch {
		case n == 0:
			t.Fatalf("nextIndex(%d, %d) = 0", prev, got)
		case got >= prev && got >= 1 && n != got:
			t.Fatalf("nextIndex(%d, %d) = %d, want %d", prev, got, n, got)
		case got < prev && n != 1:
			t.Fatalf("nextIndex(%d, %d) = %d, want 1 (reset)", prev, got, n)
		}
	})
}
