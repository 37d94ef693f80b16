package platform_test

import (
	"errors"
	"testing"

	"github.com/duohuo/duohuo/platform"
)

func TestResolveCrypto(t *testing.T) {
	kylinOnIntel := platform.Info{OS: platform.ClassifyOS(map[string]string{"ID": "kylin", "NAME": "Kylin"}),
		CPU: platform.CPU{Vendor: platform.VendorIntel}}
	ubuntuOnKunpeng := platform.Info{OS: platform.ClassifyOS(map[string]string{"ID": "ubuntu"}),
		CPU: platform.CPU{Vendor: platform.VendorHiSilicon}}
	ubuntuOnAMD := platform.Info{OS: platform.ClassifyOS(map[string]string{"ID": "ubuntu"}),
		CPU: platform.CPU{Vendor: platform.VendorAMD}}
	tests := []struct {
		name   string
		mode   string
		info   platform.Info
		want   platform.CryptoPreference
		reason string
	}{
		{"auto on a domestic distribution prefers GM", "auto", kylinOnIntel, platform.CryptoGMFirst, "auto: domestic distribution kylin-desktop"},
		{"auto on a domestic CPU prefers GM", "auto", ubuntuOnKunpeng, platform.CryptoGMFirst, "auto: domestic CPU hisilicon"},
		{"auto elsewhere prefers international TLS", "auto", ubuntuOnAMD, platform.CryptoInternationalFirst, "auto: non-domestic platform"},
		{"empty mode means auto", "", ubuntuOnAMD, platform.CryptoInternationalFirst, "auto: non-domestic platform"},
		{"explicit gm offers only GM whatever the platform", "gm", ubuntuOnAMD, platform.CryptoGMOnly, "configured"},
		{"explicit international offers only international whatever the platform", "international", kylinOnIntel, platform.CryptoInternationalOnly, "configured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, err := platform.ResolveCrypto(tc.mode, tc.info)
			if err != nil {
				t.Fatalf("ResolveCrypto(%q) error: %v", tc.mode, err)
			}
			if got != tc.want || reason != tc.reason {
				t.Errorf("ResolveCrypto(%q) = %q, %q; want %q, %q", tc.mode, got, reason, tc.want, tc.reason)
			}
		})
	}
}

func TestResolveCryptoRejectsUnknownModes(t *testing.T) {
	for _, mode := range []string{"gm-first", "AUTO", "tlcp"} {
		if _, _, err := platform.ResolveCrypto(mode, platform.Info{}); !errors.Is(err, platform.ErrCryptoMode) {
			t.Errorf("ResolveCrypto(%q) error = %v, want ErrCryptoMode", mode, err)
		}
	}
}
