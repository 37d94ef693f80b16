package discovery_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/discovery"
)

func TestInstanceValidate(t *testing.T) {
	ok := discovery.Instance{Addr: netip.MustParseAddrPort("10.0.0.1:8080"), Weight: 100}
	with := func(f func(*discovery.Instance)) discovery.Instance {
		in := ok
		f(&in)
		return in
	}
	tests := []struct {
		name string
		in   discovery.Instance
		want error // nil: valid
	}{
		{"an IPv4 address with a port is valid", ok, nil},
		{"an IPv6 address with a port is valid", with(func(in *discovery.Instance) { in.Addr = netip.MustParseAddrPort("[2001:db8::1]:443") }), nil},
		{"weight 0 (drained) is valid", with(func(in *discovery.Instance) { in.Weight = 0 }), nil},
		{"weight MaxWeight is valid", with(func(in *discovery.Instance) { in.Weight = discovery.MaxWeight }), nil},
		{"locality and labels are valid", with(func(in *discovery.Instance) {
			in.Locality = discovery.Locality{Cloud: "ctyun", Region: "cn-north-1", Zone: "cn-north-1a"}
			in.Labels = map[string]string{"version": "v2", "lane": "灰度"}
		}), nil},
		{"a missing address is refused", with(func(in *discovery.Instance) { in.Addr = netip.AddrPort{} }), discovery.ErrInvalidAddr},
		{"port 0 is refused", with(func(in *discovery.Instance) { in.Addr = netip.MustParseAddrPort("10.0.0.1:0") }), discovery.ErrInvalidAddr},
		{"the unspecified address is refused", with(func(in *discovery.Instance) { in.Addr = netip.MustParseAddrPort("0.0.0.0:80") }), discovery.ErrInvalidAddr},
		{"a multicast address is refused", with(func(in *discovery.Instance) { in.Addr = netip.MustParseAddrPort("[ff02::1]:80") }), discovery.ErrInvalidAddr},
		{"weight above MaxWeight is refused", with(func(in *discovery.Instance) { in.Weight = discovery.MaxWeight + 1 }), discovery.ErrInvalidWeight},
		{"an ID with a newline is refused", with(func(in *discovery.Instance) { in.ID = "a\nb" }), discovery.ErrInvalidField},
		{"an over-long ID is refused", with(func(in *discovery.Instance) { in.ID = strings.Repeat("x", 257) }), discovery.ErrInvalidField},
		{"a zone containing '/' is refused", with(func(in *discovery.Instance) { in.Locality.Zone = "a/b" }), discovery.ErrInvalidField},
		{"an empty label name is refused", with(func(in *discovery.Instance) { in.Labels = map[string]string{"": "x"} }), discovery.ErrInvalidField},
		{"a label value with a control character is refused", with(func(in *discovery.Instance) { in.Labels = map[string]string{"v": "\x00"} }), discovery.ErrInvalidField},
		{"metadata is valid", with(func(in *discovery.Instance) {
			in.Metadata = map[string]string{"pod": "api-7d9f-x2", "registered": "2026-11-26T12:00:00Z"}
		}), nil},
		{"an empty metadata name is refused", with(func(in *discovery.Instance) { in.Metadata = map[string]string{"": "x"} }), discovery.ErrInvalidField},
		{"a metadata value over 1024 bytes is refused", with(func(in *discovery.Instance) { in.Metadata = map[string]string{"k": strings.Repeat("v", 1025)} }), discovery.ErrInvalidField},
		{"invalid UTF-8 in a label is refused", with(func(in *discovery.Instance) { in.Labels = map[string]string{"v": "\xff"} }), discovery.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%+v.Validate() = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestCheckService(t *testing.T) {
	tests := []struct {
		name  string
		svc   string
		valid bool
	}{
		{"letters, digits, dots, dashes and underscores are valid", "order-svc_v2.prod", true},
		{"an empty name is refused", "", false},
		{"a name with a space is refused", "order svc", false},
		{"a name with a slash is refused", "a/b", false},
		{"a name longer than 253 bytes is refused", strings.Repeat("a", 254), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := discovery.CheckService(tt.svc)
			if tt.valid != (err == nil) || err != nil && !errors.Is(err, discovery.ErrInvalidService) {
				t.Errorf("CheckService(%q) = %v, want valid=%v", tt.svc, err, tt.valid)
			}
		})
	}
}

// The field checks registry sources use agree with Validate.
func TestFieldChecksAgreeWithValidate(t *testing.T) {
	addr := netip.MustParseAddrPort("192.0.2.1:1")
	long := strings.Repeat("x", 1100)
	for _, kv := range [][2]string{{"a", "b"}, {"", "b"}, {"a", ""}, {"a\x01", "b"}, {"a", "b\x7f"}, {long[:63], long[:256]}, {long[:64], "b"}, {"a", long[:257]}, {long[:253], long[:1024]}, {long[:254], "b"}, {"a", strings.Repeat("y", 1025)}} {
		k, v := kv[0], kv[1]
		if got, want := discovery.ValidLabel(k, v), (discovery.Instance{Addr: addr, Labels: map[string]string{k: v}}).Validate() == nil; got != want {
			t.Errorf("ValidLabel(%.10q, %.10q) = %v, Validate says %v", k, v, got, want)
		}
		if got, want := discovery.ValidMetadata(k, v), (discovery.Instance{Addr: addr, Metadata: map[string]string{k: v}}).Validate() == nil; got != want {
			t.Errorf("ValidMetadata(%.10q, %.10q) = %v, Validate says %v", k, v, got, want)
		}
	}
	for _, v := range []string{"", "ctyun", "a/b", "a\x00", long[:63], long[:64]} {
		if got, want := discovery.ValidLocalityPart(v), (discovery.Instance{Addr: addr, Locality: discovery.Locality{Zone: v}}).Validate() == nil; got != want {
			t.Errorf("ValidLocalityPart(%.10q) = %v, Validate says %v", v, got, want)
		}
	}
}
