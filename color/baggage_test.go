package color_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/color"
)

func TestSetBaggage(t *testing.T) {
	tests := []struct {
		name, in, key, value, want string
	}{
		{"into an empty header", "", "gray.lane", "gray", "gray.lane=gray"},
		{"appended after other members, kept as written", "userId=alice, serverNode=DF%2028;p=1", "gray.lane", "gray", "userId=alice,serverNode=DF%2028;p=1,gray.lane=gray"},
		{"replacing the member in place, properties dropped", "a=1,gray.lane=blue;ttl=3,b=2", "gray.lane", "gray", "a=1,gray.lane=gray,b=2"},
		{"duplicates of the key collapse into one", "gray.lane=a,x=1,gray.lane=b", "gray.lane", "c", "gray.lane=c,x=1"},
		{"empty list elements are skipped", "a=1,, ,b=2", "k", "v", "a=1,b=2,k=v"},
		{"a value needing escapes is percent-encoded", "", "k", "a b,c;d%", "k=a%20b%2Cc%3Bd%25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := color.SetBaggage(tt.in, tt.key, tt.value)
			if err != nil || got != tt.want {
				t.Errorf("SetBaggage(%q, %q, %q) = %q, %v; want %q", tt.in, tt.key, tt.value, got, err, tt.want)
			}
			if v, ok := color.BaggageValue(got, tt.key); !ok || v != tt.value {
				t.Errorf("BaggageValue(%q, %q) = %q, %v; want %q (round trip)", got, tt.key, v, ok, tt.value)
			}
		})
	}
}

func TestBaggageLimits(t *testing.T) {
	var members []string
	for i := range color.MaxBaggageMembers {
		members = append(members, "k"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))+"=v")
	}
	full := strings.Join(members, ",")
	tests := []struct {
		name string
		in   string
	}{
		{"a 65th member is refused", full},
		{"a header above 8192 bytes is refused", "a=" + strings.Repeat("x", color.MaxBaggageBytes)},
		{"setting that would pass 8192 bytes is refused", "a=" + strings.Repeat("x", color.MaxBaggageBytes-14)},
		{"a member without '=' is refused", "a=1,oops"},
		{"a key that is not a token is refused", "a b=1"},
		{"a value with a quote is refused", `a="1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := color.SetBaggage(tt.in, "gray.lane", "gray")
			if !errors.Is(err, color.ErrBaggage) {
				t.Errorf("SetBaggage(%.40q…) = %v, want ErrBaggage", tt.in, err)
			}
		})
	}
	// 64 members including ours is fine when ours replaces one.
	if _, err := color.SetBaggage(strings.Replace(full, members[0], "gray.lane=x", 1), "gray.lane", "gray"); err != nil {
		t.Errorf("replacing a member of a full header: %v", err)
	}
}

func TestRemoveBaggage(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{"removes the member, keeps the rest", "a=1,gray.lane=gray;p,b=2", "a=1,b=2", false},
		{"leaves a header without it unchanged", "a=1, b=2", "a=1, b=2", false},
		{"removes every duplicate", "gray.lane=a,gray.lane=b", "", false},
		{"a malformed header is an error", "gray.lane", "", true},
	}
	for _, tt := range tests {
		got, err := color.RemoveBaggage(tt.in, "gray.lane")
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: RemoveBaggage(%q) = %q, %v; want %q (error %v)", tt.name, tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestBaggageValue(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"finds the member among others", "a=1, gray.lane = gray ;p=1,b=2", "gray", true},
		{"a key that only contains the name is another key", "xgray.lane=gray", "", false},
		{"a member that cannot be read is skipped", "broken, gray.lane=gray", "gray", true},
		{"so is one after it", "gray.lane=gray,broken", "gray", true},
		{"the first member of the key decides", "gray.lane=a,gray.lane=b", "a", true},
		{"properties are not the value", "gray.lane=gray;ttl=3", "gray", true},
		{"escapes are decoded", "gray.lane=red%20team", "red team", true},
		{"a bad escape holds nothing", "gray.lane=%zz", "", false},
		{"absent", "a=1", "", false},
		{"a key alone is not a member", "gray.lane", "", false},
	}
	for _, tt := range tests {
		got, ok := color.BaggageValue(tt.in, "gray.lane")
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: BaggageValue(%q) = %q, %v; want %q, %v", tt.name, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBaggageValueDoesNotAllocate(t *testing.T) {
	h := "userId=alice,serverNode=DF%2028,gray.lane=gray;p=1"
	if n := testing.AllocsPerRun(100, func() { color.BaggageValue(h, "gray.lane") }); n != 0 {
		t.Errorf("BaggageValue allocates %v times, want 0", n)
	}
}
