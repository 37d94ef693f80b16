package main

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

const h2loadOK = `starting benchmark...
spawning thread #0: 10 total client(s). 10000 total requests
Application protocol: h2c
progress: 10% done
progress: 100% done

finished in 477.06ms, 20961.73 req/s, 2.10MB/s
requests: 10000 total, 10000 started, 10000 done, 10000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 10000 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.00MB (1050700) total, 19.65KB (20120) headers (space savings 94.71%), 693.36KB (710000) data
                     min         max         mean         sd        +/- sd
time for request:      173us     19.60ms      4.48ms      3.27ms    77.46%
time for connect:      102us       1.02ms       405us       288us    70.00%
time to 1st byte:     1.21ms      3.12ms      2.01ms       612us    60.00%
req/s           :    2043.09     2154.63     2093.11       38.48    70.00%
`

const h2loadErrors = `finished in 2.00s, 500.00 req/s, 10KB/s
requests: 1000 total, 1000 started, 990 done, 900 succeeded, 100 failed, 10 errored, 3 timeout
status codes: 900 2xx, 1 3xx, 40 4xx, 59 5xx
traffic: 50KB (51200) total, 10KB (10240) headers (space savings 90.00%), 0B (0) data
`

func TestParseH2load(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want h2loadStats
	}{
		{"a clean run", h2loadOK, h2loadStats{RPS: 20961.73, Total: 10000, Succeeded: 10000, S2xx: 10000, DataBytes: 710000}},
		{"a run with every kind of error", h2loadErrors, h2loadStats{RPS: 500, Total: 1000, Succeeded: 900, Failed: 100, Errored: 10, Tout: 3, S2xx: 900, S3xx: 1, S4xx: 40, S5xx: 59}},
	} {
		got, err := parseH2load(tc.out)
		if err != nil || got != tc.want {
			t.Errorf("%s: parseH2load = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, out string }{
		{"no output", ""},
		{"no traffic line", strings.Split(h2loadOK, "traffic:")[0]},
		{"a rate that is not a number", strings.Replace(h2loadOK, "20961.73 req/s", "fast req/s", 1)},
		{"a count that is not a number", strings.Replace(h2loadOK, "0 failed", "x failed", 1)},
	} {
		if _, err := parseH2load(tc.out); !errors.Is(err, errH2loadOutput) {
			t.Errorf("%s: parseH2load error %v, want errH2loadOutput", tc.name, err)
		}
	}
}

func TestShortBodies(t *testing.T) {
	for _, tc := range []struct {
		name            string
		succeeded, data int64
		want            int64
	}{
		{"every body whole", 100, 7100, 0},
		{"no body at all: gRPC errors answered 200", 100, 0, 100},
		{"one body missing", 100, 7029, 1},
		{"one body cut short counts as one", 100, 7099, 1},
		{"more data than expected is not short", 100, 8000, 0},
	} {
		if got := shortBodies(h2loadStats{Succeeded: tc.succeeded, DataBytes: tc.data}, 71); got != tc.want {
			t.Errorf("%s: shortBodies(%d succeeded, %d bytes) = %d, want %d", tc.name, tc.succeeded, tc.data, got, tc.want)
		}
	}
}

func TestLatencyPercentiles(t *testing.T) {
	var log strings.Builder
	for i := 1; i <= 1000; i++ { // 1µs … 1000µs, in any order
		d := (i * 7919) % 1000
		log.WriteString("1796320650757811\t200\t")
		log.WriteString(strconv.Itoa(d + 1))
		log.WriteString("\n")
	}
	p50, p99, n, err := latencyPercentiles(strings.NewReader(log.String()))
	if err != nil || n != 1000 || p50 != 0.5 || p99 != 0.99 {
		t.Fatalf("latencyPercentiles = %v ms, %v ms, %d, %v; want 0.5, 0.99, 1000", p50, p99, n, err)
	}
	for _, bad := range []string{"", "1\t200\n", "1\t200\tlong\n"} {
		if _, _, _, err := latencyPercentiles(strings.NewReader(bad)); !errors.Is(err, errH2loadOutput) {
			t.Errorf("latencyPercentiles(%q) error %v, want errH2loadOutput", bad, err)
		}
	}
}

func TestParseShapes(t *testing.T) {
	got, err := parseShapes("50x1, 10x20")
	if err != nil || len(got) != 2 || got[0] != (h2shape{50, 1}) || got[1] != (h2shape{10, 20}) {
		t.Fatalf("parseShapes = %v, %v; want [50×1 10×20]", got, err)
	}
	for _, bad := range []string{"", "50", "x1", "0x1", "1x0", "2000x1", "1x200", "ax1"} {
		if _, err := parseShapes(bad); err == nil {
			t.Errorf("parseShapes(%q) accepted", bad)
		}
	}
}

func TestExpectedData(t *testing.T) {
	for _, tc := range []struct {
		cell string
		size int
		want int64
	}{
		{"grpc", 64, 5 + 2 + 64},     // prefix, tag and 1-byte length
		{"grpc", 4096, 5 + 3 + 4096}, // a 2-byte length
		{"h2c", 64, 64},
		{"h2c", 4096, 4096},
	} {
		if got := expectedData(tc.cell, tc.size); got != tc.want {
			t.Errorf("expectedData(%s, %d) = %d, want %d", tc.cell, tc.size, got, tc.want)
		}
	}
}

func TestReplaceBlockAppendsOneSectionAndKeepsOthers(t *testing.T) {
	doc := "# Benchmarks\n\n## Gateway (HTTP reverse proxy)\n\n" + beginMarker + "\nG\n" + endMarker + "\n"
	got, err := replaceBlock(doc, h2Begin, h2End, h2Heading, "T1\n")
	want := doc + "\n## " + h2Heading + "\n\n" + h2Begin + "\nT1\n" + h2End + "\n"
	if err != nil || got != want {
		t.Fatalf("replaceBlock = %q, %v; want %q", got, err, want)
	}
	again, err := replaceBlock(got, h2Begin, h2End, h2Heading, "T2\n")
	if err != nil || again != strings.Replace(want, "T1", "T2", 1) {
		t.Fatalf("second replaceBlock = %q, %v; want only the table replaced", again, err)
	}
	if g, err := replaceSection(again, "G2\n"); err != nil || !strings.Contains(g, "\nG2\n") || !strings.Contains(g, "\nT2\n") {
		t.Fatalf("replaceSection after replaceBlock = %q, %v; want both tables", g, err)
	}
}
