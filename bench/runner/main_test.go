package main

import (
	"slices"
	"testing"
)

func TestRunOrder(t *testing.T) {
	names := func(ps []*proxy) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.name)
		}
		return out
	}
	mk := func(ns ...string) []*proxy {
		var out []*proxy
		for _, n := range ns {
			out = append(out, &proxy{name: n})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		in    []string
		round int
		want  []string
	}{
		{"odd rounds keep the order", []string{"nginx", "duohuo", "duohuo-before"}, 1, []string{"nginx", "duohuo", "duohuo-before"}},
		{"even rounds swap the two duohuo builds", []string{"nginx", "duohuo", "duohuo-before"}, 2, []string{"nginx", "duohuo-before", "duohuo"}},
		{"without -before nothing moves", []string{"nginx", "goproxy", "duohuo"}, 2, []string{"nginx", "goproxy", "duohuo"}},
	} {
		in := mk(tc.in...)
		got := names(runOrder(in, tc.round))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: runOrder(%v, %d) = %v; want %v", tc.name, tc.in, tc.round, got, tc.want)
		}
		if !slices.Equal(names(in), tc.in) {
			t.Errorf("%s: runOrder changed its argument to %v", tc.name, names(in))
		}
	}
}

func TestCPURatioIsTheMedianOfPerRoundRatios(t *testing.T) {
	var rs []result
	for i, pair := range [][2]float64{{110, 100}, {90, 100}, {104, 100}} {
		rs = append(rs,
			result{Proxy: "duohuo", Round: i + 1, Size: 64, Conns: 50, CPUPerReqUs: pair[0]},
			result{Proxy: "duohuo-before", Round: i + 1, Size: 64, Conns: 50, CPUPerReqUs: pair[1]})
	}
	got, ok := cpuRatio(rs, "duohuo", "duohuo-before", 64, 50)
	if !ok || got != 1.04 {
		t.Errorf("cpuRatio = %v, %v; want 1.04, true", got, ok)
	}
	if _, ok := cpuRatio(rs, "duohuo", "duohuo-before", 4096, 50); ok {
		t.Errorf("cpuRatio of a cell without runs = ok; want not ok")
	}
}
