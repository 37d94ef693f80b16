package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// result is one measured run.
type result struct {
	Proxy       string    `json:"proxy"`
	Round       int       `json:"round"`
	Size        int       `json:"size"`
	Conns       int       `json:"conns"`
	Start       time.Time `json:"start"`
	Load        string    `json:"load"` // load averages before the run
	RPS         float64   `json:"rps"`
	Requests    int64     `json:"requests"`
	P50ms       float64   `json:"p50_ms"`
	P99ms       float64   `json:"p99_ms"`
	Non2xx      int64     `json:"non_2xx"`
	SocketErrs  int64     `json:"socket_errors"`
	CPUPerReqUs float64   `json:"cpu_us_per_request"` // proxy CPU (user+sys) per request
	RSSMiB      float64   `json:"peak_rss_mib"`       // VmHWM of the proxy's processes
}

func (r result) errNote() string {
	if r.Non2xx == 0 && r.SocketErrs == 0 {
		return ""
	}
	return fmt.Sprintf("  ERRORS: %d non-2xx, %d socket", r.Non2xx, r.SocketErrs)
}

// errWrkOutput reports wrk output without the lines a result needs.
var errWrkOutput = errors.New("unrecognised wrk output")

// parseWrk reads the summary of `wrk --latency` into r: Requests/sec, the
// request count, the 50% and 99% latency lines, and error counts.
func parseWrk(out string, r *result) error {
	var haveRPS, haveP50, haveP99, haveN bool
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return fmt.Errorf("%w: Requests/sec %q", errWrkOutput, f[1])
			}
			r.RPS, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			ms, err := wrkDuration(f[1])
			if err != nil {
				return err
			}
			if f[0] == "50%" {
				r.P50ms, haveP50 = ms, true
			} else {
				r.P99ms, haveP99 = ms, true
			}
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return fmt.Errorf("%w: request count %q", errWrkOutput, f[0])
			}
			r.Requests, haveN = n, true
		case len(f) == 5 && f[0] == "Non-2xx":
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return fmt.Errorf("%w: non-2xx count %q", errWrkOutput, f[4])
			}
			r.Non2xx = n
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return fmt.Errorf("%w: %q", errWrkOutput, line)
				}
				r.SocketErrs += n
			}
		}
	}
	if !haveRPS || !haveP50 || !haveP99 || !haveN {
		return fmt.Errorf("%w: no Requests/sec, request count or 50%%/99%% latency (was --latency given?)", errWrkOutput)
	}
	return nil
}

// wrkDuration converts wrk's "850.00us", "1.18ms", "1.20s" or "2.00m" to
// milliseconds.
func wrkDuration(s string) (float64, error) {
	units := []struct {
		suffix string
		ms     float64
	}{{"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				break
			}
			return v * u.ms, nil
		}
	}
	return 0, fmt.Errorf("%w: latency %q", errWrkOutput, s)
}
