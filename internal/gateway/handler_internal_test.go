package gateway

import (
	"net/netip"
	"sync"
	"testing"
)

func TestHostPortIsAddrPortString(t *testing.T) {
	for _, s := range []string{"127.0.0.1:8080", "[::1]:9000", "[fe80::1%eth0]:80", "10.0.0.7:1"} {
		ap := netip.MustParseAddrPort(s)
		for range 2 { // formatted, then from the cache
			if got := hostPort(ap); got != ap.String() {
				t.Errorf("hostPort(%v) = %q, want %q", ap, got, ap.String())
			}
		}
	}
}

func TestHostPortConcurrentAndBounded(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2 * maxHostPorts {
				ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)}), 80)
				if got, want := hostPort(ap), ap.String(); got != want {
					t.Errorf("hostPort(%v) = %q, want %q", ap, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := hostPorts.Len(); n > maxHostPorts {
		t.Errorf("hostPort cache holds %d addresses, want at most %d", n, maxHostPorts)
	}
}
