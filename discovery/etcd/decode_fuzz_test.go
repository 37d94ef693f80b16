package etcd

import (
	"errors"
	"testing"

	"github.com/duohuo/duohuo/discovery"
)

// FuzzDecode checks that any key and value either decode into an instance
// the aggregator accepts or are refused with ErrBadEntry, never a panic.
func FuzzDecode(f *testing.F) {
	f.Add("api/a", []byte(`{"addr": "10.0.0.1:80", "weight": 5, "cloud": "ctyun", "labels": {"version": "v2"}}`))
	f.Add("api/b", []byte(`{"addr": "[fd00::1]:443", "id": "x"}`))
	f.Add("api", []byte(`{"addr": "10.0.0.1:80"}`))
	f.Add("a b/x", []byte(`{"addr": "10.0.0.1:80"}`))
	f.Add("api/x", []byte(`{"addr": "10.0.0.1:80", "weight": 70000}`))
	f.Add("api/x", []byte(`{"addr": `))
	s := &Source{cfg: Config{Prefix: "/p/"}}
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		svc, in, err := s.decode("/p/"+key, value)
		if err != nil {
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("decode(%q, %q) = %v, want ErrBadEntry", key, value, err)
			}
			return
		}
		if err := discovery.CheckService(svc); err != nil {
			t.Fatalf("decode(%q, %q) accepted service %q: %v", key, value, svc, err)
		}
		if err := in.Validate(); err != nil || in.ID == "" {
			t.Fatalf("decode(%q, %q) accepted %+v: %v", key, value, in, err)
		}
	})
}
