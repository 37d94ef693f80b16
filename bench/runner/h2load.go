package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// h2result is one measured run of the gRPC and h2c benchmark.
type h2result struct {
	Cell     string  `json:"cell"` // "grpc" or "h2c"
	Proxy    string  `json:"proxy"`
	Round    int     `json:"round"`
	Size     int     `json:"size"`
	Conns    int     `json:"conns"`
	Streams  int     `json:"streams"` // concurrent streams per connection (h2load -m)
	Start    string  `json:"start"`
	Load     string  `json:"load"` // load averages before the run
	RPS      float64 `json:"rps"`
	Requests int64   `json:"requests"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// Failed is h2load's failed + errored + timeout; Non2xx its 3xx, 4xx
	// and 5xx; Short the 2xx responses whose body was missing or short (a
	// gRPC call that fails answers 200 with no message: h2load does not
	// read grpc-status, so the DATA bytes are counted against the
	// expected size instead).
	Failed      int64   `json:"failed"`
	Non2xx      int64   `json:"non_2xx"`
	Short       int64   `json:"short_bodies"`
	CPUPerReqUs float64 `json:"cpu_us_per_request"`
	RSSMiB      float64 `json:"peak_rss_mib"`
	// Err says why the run was not measured (the contestant failed the
	// check before it); empty when measured.
	Err string `json:"error,omitempty"`
}

func (r h2result) errors() int64 { return r.Failed + r.Non2xx + r.Short }

// h2loadStats is what the summary of one h2load run says.
type h2loadStats struct {
	RPS                                     float64
	Total, Succeeded, Failed, Errored, Tout int64
	S2xx, S3xx, S4xx, S5xx                  int64
	DataBytes                               int64
}

// errH2loadOutput reports h2load output without the lines a result needs.
var errH2loadOutput = errors.New("unrecognised h2load output")

// parseH2load reads the summary h2load prints at the end of a run:
//
//	finished in 8.00s, 31234.50 req/s, 3.45MB/s
//	requests: 249876 total, 249876 started, 249876 done, 249876 succeeded, 0 failed, 0 errored, 0 timeout
//	status codes: 249876 2xx, 0 3xx, 0 4xx, 0 5xx
//	traffic: 27.59MB (28928112) total, 732.93KB (750534) headers (space savings 95.23%), 16.92MB (17741196) data
func parseH2load(out string) (h2loadStats, error) {
	var s h2loadStats
	var haveRPS, haveReq, haveCodes, haveData bool
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "finished in "):
			f := strings.Split(line, ", ")
			if len(f) < 2 || !strings.HasSuffix(f[1], " req/s") {
				return s, fmt.Errorf("%w: %q", errH2loadOutput, line)
			}
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[1], " req/s"), 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return s, fmt.Errorf("%w: %q", errH2loadOutput, line)
			}
			s.RPS, haveRPS = v, true
		case strings.HasPrefix(line, "requests: "):
			m, err := counts(strings.TrimPrefix(line, "requests: "))
			if err != nil {
				return s, fmt.Errorf("%w: %q: %v", errH2loadOutput, line, err)
			}
			s.Total, s.Succeeded, s.Failed, s.Errored, s.Tout = m["total"], m["succeeded"], m["failed"], m["errored"], m["timeout"]
			haveReq = true
		case strings.HasPrefix(line, "status codes: "):
			m, err := counts(strings.TrimPrefix(line, "status codes: "))
			if err != nil {
				return s, fmt.Errorf("%w: %q: %v", errH2loadOutput, line, err)
			}
			s.S2xx, s.S3xx, s.S4xx, s.S5xx = m["2xx"], m["3xx"], m["4xx"], m["5xx"]
			haveCodes = true
		case strings.HasPrefix(line, "traffic: "):
			// The exact byte count of the DATA frames is in the
			// parentheses before "data".
			i := strings.LastIndex(line, ") data")
			j := strings.LastIndex(line[:max(i, 0)], "(")
			if i < 0 || j < 0 {
				return s, fmt.Errorf("%w: %q", errH2loadOutput, line)
			}
			n, err := strconv.ParseInt(line[j+1:i], 10, 64)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%w: %q", errH2loadOutput, line)
			}
			s.DataBytes, haveData = n, true
		}
	}
	if !haveRPS || !haveReq || !haveCodes || !haveData {
		return s, fmt.Errorf("%w: no finished, requests, status codes or traffic line", errH2loadOutput)
	}
	return s, nil
}

// counts parses "249876 total, 0 failed, …" into a map by word.
func counts(s string) (map[string]int64, error) {
	m := map[string]int64{}
	for _, f := range strings.Split(s, ", ") {
		num, word, ok := strings.Cut(strings.TrimSpace(f), " ")
		if !ok {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a count", f)
		}
		m[word] = n
	}
	return m, nil
}

// shortBodies returns how many of the succeeded responses cannot have
// carried a whole body of want bytes, given the DATA bytes received.
func shortBodies(s h2loadStats, want int64) int64 {
	if want <= 0 {
		return 0
	}
	expected := s.Succeeded * want
	switch {
	case s.DataBytes >= expected:
		return 0
	default:
		return (expected - s.DataBytes + want - 1) / want
	}
}

// latencyPercentiles reads an h2load --log-file (one request a line: start
// time in µs, status, duration in µs, tab-separated) and returns the 50th
// and 99th percentile durations in milliseconds and the number of requests.
func latencyPercentiles(r io.Reader) (p50, p99 float64, n int, err error) {
	var us []int64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 {
			return 0, 0, 0, fmt.Errorf("%w: log line %q", errH2loadOutput, sc.Text())
		}
		d, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || d < 0 {
			return 0, 0, 0, fmt.Errorf("%w: log line %q", errH2loadOutput, sc.Text())
		}
		us = append(us, d)
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, err
	}
	if len(us) == 0 {
		return 0, 0, 0, fmt.Errorf("%w: empty log", errH2loadOutput)
	}
	slices.Sort(us)
	// Nearest rank, as wrk reports.
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(us)))) - 1
		return float64(us[min(max(i, 0), len(us)-1)]) / 1000
	}
	return at(0.50), at(0.99), len(us), nil
}
