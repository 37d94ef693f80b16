package drill

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary describes a set of samples. Latencies cover every request that
// was sent, successful or not; dropped requests count only as failures.
type Summary struct {
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"`
	Dropped     int     `json:"dropped"`
	SuccessRate float64 `json:"success_rate"` // OK / Requests, 0 to 1; 1 when there are none
	// Latencies, exact (from every sample), in the JSON as nanoseconds.
	Avg  time.Duration `json:"avg_ns"`
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
	// ByCloud counts successful answers by the cloud of the instance that
	// answered (the part of the instance name before its last "-").
	ByCloud map[string]int `json:"by_cloud,omitempty"`
	// CloudP99 is the p99 latency of those answers, by cloud.
	CloudP99 map[string]time.Duration `json:"cloud_p99_ns,omitempty"`
	// Failures counts failed requests by HTTP status ("503"), "error" for
	// transport errors and "dropped".
	Failures map[string]int `json:"failures,omitempty"`
}

// Summarize returns the statistics of samples. It does not modify them and
// is safe for concurrent use.
func Summarize(samples []Sample) Summary {
	s := Summary{Requests: len(samples), SuccessRate: 1}
	lat := make([]time.Duration, 0, len(samples))
	var byCloud map[string][]time.Duration
	var sum time.Duration
	for _, x := range samples {
		if x.Dropped {
			s.Dropped++
			s.fail("dropped")
			continue
		}
		lat = append(lat, x.Latency)
		sum += x.Latency
		if x.OK() {
			s.OK++
			if c := cloudOf(x.By); c != "" {
				if s.ByCloud == nil {
					s.ByCloud = map[string]int{}
				}
				s.ByCloud[c]++
				if byCloud == nil {
					byCloud = map[string][]time.Duration{}
				}
				byCloud[c] = append(byCloud[c], x.Latency)
			}
		} else if x.Err != "" || x.Status == 0 {
			s.fail("error")
		} else {
			s.fail(strconv.Itoa(x.Status))
		}
	}
	if s.Requests > 0 {
		s.SuccessRate = float64(s.OK) / float64(s.Requests)
	}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	s.Avg = sum / time.Duration(len(lat))
	s.P50 = quantile(lat, 0.5)
	s.P99 = quantile(lat, 0.99)
	s.P999 = quantile(lat, 0.999)
	s.Max = lat[len(lat)-1]
	for c, l := range byCloud {
		if s.CloudP99 == nil {
			s.CloudP99 = map[string]time.Duration{}
		}
		slices.Sort(l)
		s.CloudP99[c] = quantile(l, 0.99)
	}
	return s
}

func (s *Summary) fail(why string) {
	if s.Failures == nil {
		s.Failures = map[string]int{}
	}
	s.Failures[why]++
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// cloudOf returns the cloud of a demo instance name ("ctyun-2" → "ctyun").
func cloudOf(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

// between returns the samples scheduled in [from, to); samples are in
// schedule order.
func between(samples []Sample, from, to time.Duration) []Sample {
	lo, _ := slices.BinarySearchFunc(samples, from, func(s Sample, t time.Duration) int { return cmpDur(s.At, t) })
	hi, _ := slices.BinarySearchFunc(samples, to, func(s Sample, t time.Duration) int { return cmpDur(s.At, t) })
	return samples[lo:hi]
}

func cmpDur(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Window is one second of a run.
type Window struct {
	At          time.Duration `json:"at_ns"` // start, from the start of the run
	Requests    int           `json:"requests"`
	SuccessRate float64       `json:"success_rate"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	// ByCloud counts the window's successful answers by the cloud that
	// gave them.
	ByCloud map[string]int `json:"by_cloud,omitempty"`
}

// Windows splits samples into consecutive one-second windows from the
// start of the run.
func Windows(samples []Sample) []Window {
	var out []Window
	for from := time.Duration(0); len(samples) > 0; from += time.Second {
		w := between(samples, from, from+time.Second)
		s := Summarize(w)
		out = append(out, Window{At: from, Requests: s.Requests, SuccessRate: s.SuccessRate, P50: s.P50, P99: s.P99, ByCloud: s.ByCloud})
		samples = samples[len(w):]
	}
	return out
}

// recoveryStep is the resolution of recovery times: one-second windows
// slide by this much.
const recoveryStep = 10 * time.Millisecond

// RecoveryTarget is the success rate a one-second window needs for the
// service to count as recovered.
const RecoveryTarget = 0.999

// TimeToRecover returns how long after fault the service recovered: the
// start of the first one-second window, sliding from fault in steps of
// 10ms and ending by until, whose success rate is at least
// [RecoveryTarget]. It returns -1 if no such window exists. A window needs
// at least one request.
func TimeToRecover(samples []Sample, fault, until time.Duration) time.Duration {
	return firstWindow(samples, fault, until, func(w []Sample) bool {
		s := Summarize(w)
		return s.Requests > 0 && s.SuccessRate >= RecoveryTarget
	})
}

// TimeToLatency returns how long after fault the latency settled: the start
// of the first sliding one-second window ending by until whose p99 is at
// most limit, -1 if none.
func TimeToLatency(samples []Sample, fault, until, limit time.Duration) time.Duration {
	return firstWindow(samples, fault, until, func(w []Sample) bool {
		s := Summarize(w)
		return s.Requests > 0 && s.P99 <= limit
	})
}

func firstWindow(samples []Sample, fault, until time.Duration, good func([]Sample) bool) time.Duration {
	for from := fault; from+time.Second <= until; from += recoveryStep {
		if good(between(samples, from, from+time.Second)) {
			return from - fault
		}
	}
	return -1
}
