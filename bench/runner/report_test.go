package main

import (
	"errors"
	"strings"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	block := beginMarker + "\nT2\n" + endMarker
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"an empty doc gets the intro, then the table", "", docIntro + block + "\n"},
		{"a doc without markers keeps its sections and gets the gateway section appended",
			"# Benchmarks\n\n## CRDT\n\nfigures\n",
			"# Benchmarks\n\n## CRDT\n\nfigures\n\n## Gateway (HTTP reverse proxy)\n\n" + block + "\n"},
		{"only the text between the markers changes",
			"# B\n\n## Gateway\n\nmine\n" + beginMarker + "\nT1\n" + endMarker + "\n\n## Lock\n\ntheirs\n",
			"# B\n\n## Gateway\n\nmine\n" + block + "\n\n## Lock\n\ntheirs\n"},
	} {
		got, err := replaceSection(tc.doc, "T2\n")
		if err != nil || got != tc.want {
			t.Errorf("%s: replaceSection = %q, %v; want %q", tc.name, got, err, tc.want)
		}
		// Writing the same table again changes nothing.
		again, err := replaceSection(got, "T2\n")
		if err != nil || again != got {
			t.Errorf("%s: a second replaceSection changed the doc: %q, %v", tc.name, again, err)
		}
	}
}

func TestReplaceSectionRefusesUnbalancedMarkers(t *testing.T) {
	for _, doc := range []string{
		"x\n" + beginMarker + "\nT\n",
		"x\n" + endMarker + "\n",
		endMarker + "\n" + beginMarker + "\n",
	} {
		if _, err := replaceSection(doc, "T\n"); !errors.Is(err, errNoMarkers) {
			t.Errorf("replaceSection(%q) = %v, want errNoMarkers", doc, err)
		}
	}
}

func TestRatioIsMedianOfSameRoundRatios(t *testing.T) {
	rs := []result{
		{Proxy: "nginx", Round: 1, Size: 64, Conns: 50, RPS: 100},
		{Proxy: "duohuo", Round: 1, Size: 64, Conns: 50, RPS: 50},
		{Proxy: "nginx", Round: 2, Size: 64, Conns: 50, RPS: 40}, // a noisy round: both slow
		{Proxy: "duohuo", Round: 2, Size: 64, Conns: 50, RPS: 24},
		{Proxy: "nginx", Round: 3, Size: 64, Conns: 50, RPS: 80},
		{Proxy: "duohuo", Round: 3, Size: 64, Conns: 50, RPS: 44},
		{Proxy: "duohuo", Round: 3, Size: 64, Conns: 200, RPS: 1}, // another cell
	}
	got, ok := ratio(rs, "duohuo", "nginx", 64, 50)
	if !ok || !near(got, 0.55) { // ratios 0.5, 0.6, 0.55
		t.Errorf("ratio = %v, %v; want 0.55 (median of 0.5, 0.6, 0.55)", got, ok)
	}
	if _, ok := ratio(rs, "duohuo", "haproxy", 64, 50); ok {
		t.Error("ratio against a proxy that never ran reports ok")
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 37324.4: "37,324", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
	if !strings.Contains(sizeLabel(4096), "KiB") || sizeLabel(64) != "64 B" {
		t.Errorf("sizeLabel(4096), sizeLabel(64) = %q, %q", sizeLabel(4096), sizeLabel(64))
	}
}
