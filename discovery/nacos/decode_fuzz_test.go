package nacos

import (
	"errors"
	"net/netip"
	"testing"
)

// FuzzDecodeList checks that any answer body either is refused with
// ErrBadAnswer or turns into instances the aggregator accepts as a whole
// (valid, no address twice), with every left-out host reported as
// ErrBadInstance; never a panic.
func FuzzDecodeList(f *testing.F) {
	f.Add([]byte(`{"name":"DEFAULT_GROUP@@api","hosts":[{"ip":"10.0.0.1","port":8080,"weight":1.0,"healthy":true,"enabled":true,"clusterName":"DEFAULT","metadata":{"version":"v2","zone":"a"}}],"reachProtectionThreshold":false}`))
	f.Add([]byte(`{"hosts":[{"ip":"10.0.0.1","port":80,"healthy":false},{"ip":"10.0.0.2","port":80,"healthy":false}],"reachProtectionThreshold":true}`))
	f.Add([]byte(`{"hosts":[{"ip":"fd00::1","port":80,"weight":10000},{"ip":"10.0.0.1","port":80,"weight":0.001},{"ip":"::ffff:10.0.0.1","port":80}]}`))
	f.Add([]byte(`{"hosts":[{"ip":"a.example","port":80},{"ip":"10.0.0.1","port":0},{"ip":"10.0.0.1","port":80,"weight":-1},{"ip":"10.0.0.1","port":80,"enabled":false}]}`))
	f.Add([]byte(`{"hosts":[{"ip":"10.0.0.1","port":80,"metadata":{"":"x","cloud":"a/b","k\u0001":"v"}}]}`))
	f.Add([]byte(`{"hosts":[1,"x",null,{"ip":"fe80::1%eth0","port":80}]}`))
	f.Add([]byte(`{"hosts":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"hosts":`))
	s, err := NewSource(Config{Service: "api", Servers: []string{"127.0.0.1:8848"}, Clusters: []string{"DEFAULT", "a"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := decodeList(body)
		if err != nil {
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("decodeList(%q) = %v, want ErrBadAnswer", body, err)
			}
			return
		}
		l := s.convert(info)
		if l.instances == nil {
			t.Fatalf("convert(%q): nil instances, want an empty list", body)
		}
		if l.empty != (len(info.Hosts) == 0) {
			t.Fatalf("convert(%q): empty = %v with %d hosts", body, l.empty, len(info.Hosts))
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
			if in.HealthUnknown != info.ReachProtectionThreshold {
				t.Fatalf("convert(%q): HealthUnknown %v with reachProtectionThreshold %v", body, in.HealthUnknown, info.ReachProtectionThreshold)
			}
		}
		for _, e := range l.bad {
			if !errors.Is(e, ErrBadInstance) {
				t.Fatalf("convert(%q) left a host out with %v, want ErrBadInstance", body, e)
			}
		}
	})
}

// FuzzDecodeLogin checks that any login answer gives a token and a
// lifetime that is not negative, or ErrBadAnswer.
func FuzzDecodeLogin(f *testing.F) {
	f.Add([]byte(`{"accessToken":"eyJ","tokenTtl":18000,"globalAdmin":true}`))
	f.Add([]byte(`{"accessToken":"eyJ","tokenTtl":"18000"}`))
	f.Add([]byte(`{"accessToken":"eyJ","tokenTtl":-5}`))
	f.Add([]byte(`{"accessToken":"eyJ","tokenTtl":1e300}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, ttl, err := decodeLogin(body)
		if err != nil && !errors.Is(err, ErrBadAnswer) {
			t.Fatalf("decodeLogin(%q) = %v, want ErrBadAnswer", body, err)
		}
		if ttl < 0 {
			t.Fatalf("decodeLogin(%q) ttl = %v", body, ttl)
		}
	})
}
