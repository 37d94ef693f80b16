package main

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const wrkOK = `Running 5s test @ http://127.0.0.1:41721/64
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.86ms    1.64ms  15.36ms   76.01%
    Req/Sec    18.08k     2.95k   23.91k    62.75%
  Latency Distribution
     50%    2.46ms
     75%    3.65ms
     90%    4.99ms
     99%    8.24ms
  91845 requests in 5.10s, 18.83MB read
Requests/sec:  17995.34
Transfer/sec:      3.69MB
`

const wrkErrors = `Running 2s test @ http://127.0.0.1:1/64
  1 threads and 200 connections
  Latency Distribution
     50%  850.00us
     75%    1.00ms
     90%    1.10ms
     99%    1.20s
  1000 requests in 2.00s, 1.00MB read
  Socket errors: connect 3, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 7
Requests/sec:    500.00
Transfer/sec:      0.50MB
`

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want result
	}{
		{"a clean run gives rate, count and percentiles in ms", wrkOK,
			result{RPS: 17995.34, Requests: 91845, P50ms: 2.46, P99ms: 8.24}},
		{"µs and s latencies are converted, socket errors summed, non-2xx counted", wrkErrors,
			result{RPS: 500, Requests: 1000, P50ms: 0.85, P99ms: 1200, SocketErrs: 10, Non2xx: 7}},
	} {
		var got result
		if err := parseWrk(tc.out, &got); err != nil {
			t.Errorf("%s: parseWrk = %v, want nil", tc.name, err)
			continue
		}
		if !near(got.RPS, tc.want.RPS) || got.Requests != tc.want.Requests || !near(got.P50ms, tc.want.P50ms) ||
			!near(got.P99ms, tc.want.P99ms) || got.SocketErrs != tc.want.SocketErrs || got.Non2xx != tc.want.Non2xx {
			t.Errorf("%s: parseWrk = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

func TestParseWrkRefuses(t *testing.T) {
	for _, tc := range []struct{ name, out string }{
		{"output without --latency has no percentiles", strings.Replace(wrkOK, "     50%    2.46ms\n", "", 1)},
		{"no Requests/sec line", strings.Replace(wrkOK, "Requests/sec:  17995.34\n", "", 1)},
		{"a latency without a unit", strings.Replace(wrkOK, "2.46ms", "2.46", 1)},
		{"a negative latency", strings.Replace(wrkOK, "2.46ms", "-2.46ms", 1)},
		{"a rate that is not a number", strings.Replace(wrkOK, "17995.34", "fast", 1)},
		{"an error line that is not numbers", strings.Replace(wrkErrors, "read 2,", "read two,", 1)},
		{"empty output", ""},
	} {
		var r result
		if err := parseWrk(tc.out, &r); !errors.Is(err, errWrkOutput) {
			t.Errorf("%s: parseWrk = %v, want errWrkOutput", tc.name, err)
		}
	}
}

func FuzzParseWrk(f *testing.F) {
	f.Add(wrkOK)
	f.Add(wrkErrors)
	f.Add("Requests/sec: NaN\n 50% 1ms\n 99% 1ms\n 1 requests in 1s\n")
	f.Fuzz(func(t *testing.T, out string) {
		var r result
		err := parseWrk(out, &r)
		if err != nil && !errors.Is(err, errWrkOutput) {
			t.Fatalf("parseWrk error %v does not wrap errWrkOutput", err)
		}
		if err == nil && (r.P50ms < 0 || r.P99ms < 0 || math.IsNaN(r.P50ms) || math.IsNaN(r.P99ms)) {
			t.Fatalf("parseWrk accepted latencies %v, %v", r.P50ms, r.P99ms)
		}
	})
}
