package gray

import (
	"testing"

	"github.com/duohuo/duohuo/color"
)

// FuzzBaggageMemberAgreesWithColor: wherever package color (which
// validates baggage strictly) reads a member, the rules' allocation-free
// scanner reads the same value.
func FuzzBaggageMemberAgreesWithColor(f *testing.F) {
	for _, h := range []string{"userId=alice, tenant = acme;ttl=3,x=1", "team=red%20team", "xtenant=acme", "tenant=a,tenant=b", "tenant=%zz", ""} {
		f.Add(h, "tenant")
	}
	f.Fuzz(func(t *testing.T, h, key string) {
		want, ok := color.BaggageValue(h, key)
		if !ok {
			return // color refuses the header or lacks the key; the scanner may be laxer
		}
		if got := baggageMember(h, key); got != want {
			t.Fatalf("baggageMember(%q, %q) = %q, color reads %q", h, key, got, want)
		}
	})
}

func TestBaggageMemberDoesNotAllocate(t *testing.T) {
	h := "userId=alice,serverNode=DF%2028,tenant=acme;p=1"
	if n := testing.AllocsPerRun(100, func() { baggageMember(h, "tenant") }); n != 0 {
		t.Errorf("baggageMember allocates %v times, want 0", n)
	}
}
