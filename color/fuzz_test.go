package color_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duohuo/duohuo/color"
)

// FuzzBaggage: parsing never panics; setting a member and reading it back
// gives the value; other members survive a set and a remove; results stay
// within the W3C limits.
func FuzzBaggage(f *testing.F) {
	for _, seed := range []string{"", "userId=alice, serverNode=DF%2028;p=1", "a=1,gray.lane=blue;ttl=3,b=2", "gray.lane=a,x=1,gray.lane=b", "a=1,, ,b=2", "a=1,oops", `a="1"`, "k=%zz"} {
		f.Add(seed, "gray")
	}
	f.Fuzz(func(t *testing.T, header, value string) {
		got, err := color.SetBaggage(header, "gray.lane", value)
		if err != nil {
			if !errors.Is(err, color.ErrBaggage) {
				t.Fatalf("SetBaggage error %v does not wrap ErrBaggage", err)
			}
			return
		}
		if len(got) > color.MaxBaggageBytes || strings.Count(got, ",") >= color.MaxBaggageMembers {
			t.Fatalf("SetBaggage result breaks the W3C limits: %d bytes", len(got))
		}
		if v, ok := color.BaggageValue(got, "gray.lane"); !ok || v != value {
			t.Fatalf("BaggageValue(SetBaggage(%q, %q)) = %q, %v", header, value, v, ok)
		}
		removed, err := color.RemoveBaggage(got, "gray.lane")
		if err != nil {
			t.Fatalf("RemoveBaggage of a header SetBaggage made: %v", err)
		}
		if _, ok := color.BaggageValue(removed, "gray.lane"); ok {
			t.Fatalf("RemoveBaggage(%q) left the member", got)
		}
		// Every other member of the input survives set and remove.
		for _, m := range strings.Split(removed, ",") {
			if m != "" && !strings.Contains(header, m) {
				t.Fatalf("member %q appeared from nowhere (input %q)", m, header)
			}
		}
	})
}

// FuzzVerify: any string given as a token is refused or names a valid
// lane, and never panics; a token signed for a lane verifies to it.
func FuzzVerify(f *testing.F) {
	p := mustNew(f, color.Config{Keys: [][]byte{key1}, Now: at(t0)})
	tok, err := p.Sign("gray", time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok, "gray")
	f.Add("v1.gray.1.AAAA", "blue.v2")
	f.Add("v1..1.", "a")
	f.Fuzz(func(t *testing.T, token, lane string) {
		if got, err := p.Verify(token); err == nil && !color.ValidLane(got) {
			t.Fatalf("Verify(%q) accepted invalid lane %q", token, got)
		} else if err != nil && !errors.Is(err, color.ErrToken) {
			t.Fatalf("Verify error %v does not wrap ErrToken", err)
		}
		signed, err := p.Sign(lane, time.Minute)
		if err != nil {
			if color.ValidLane(lane) {
				t.Fatalf("Sign(%q): %v", lane, err)
			}
			return
		}
		if got, err := p.Verify(signed); err != nil || got != lane {
			t.Fatalf("Verify(Sign(%q)) = %q, %v", lane, got, err)
		}
	})
}
