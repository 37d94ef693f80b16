package health

import (
	"math"
	"slices"
	"time"
)

// DynamicWeight returns the effective weight of an instance in service:
//
//	L = clamp((reference / latency)^LatencyExponent, 0, 1)
//	S = successRate^SuccessExponent
//	w = configured × max(L × S, MinFactor)
//
// reference is the median of the latency averages of the service's
// instances, so an instance at or below the median keeps its configured
// weight and one twice as slow keeps half of it (with the default exponent
// 1); successRate is the instance's success-rate average in [0, 1]. The
// floor MinFactor keeps a trickle of traffic on a slow or failing instance
// so that it is re-measured and can recover. A latency or reference of 0
// (not measured yet) leaves L = 1. The result is at least 1 when configured
// is not 0, and 0 when configured is 0 (drained). Zero fields of c take
// their defaults. DynamicWeight is a pure function, safe for concurrent use.
func DynamicWeight(configured uint32, latency, reference time.Duration, successRate float64, c WeightConfig) uint32 {
	c = Config{Weight: c}.withDefaults().Weight
	return dynamicWeight(configured, latency, reference, successRate, &c)
}

func dynamicWeight(configured uint32, latency, reference time.Duration, successRate float64, c *WeightConfig) uint32 {
	if configured == 0 {
		return 0
	}
	l := 1.0
	if latency > 0 && reference > 0 && latency > reference {
		l = math.Pow(float64(reference)/float64(latency), c.LatencyExponent)
	}
	if !(successRate >= 0) { // NaN too
		successRate = 0
	}
	s := math.Pow(min(successRate, 1), c.SuccessExponent)
	f := max(l*s, c.MinFactor)
	w := math.Round(float64(configured) * f)
	return uint32(max(1, min(w, float64(configured))))
}

// median returns the median of the non-zero values of ds, 0 when there are
// none. It sorts a copy held in buf and returns the buffer for reuse.
func median(ds []time.Duration, buf []time.Duration) (time.Duration, []time.Duration) {
	buf = buf[:0]
	for _, d := range ds {
		if d > 0 {
			buf = append(buf, d)
		}
	}
	if len(buf) == 0 {
		return 0, buf
	}
	slices.Sort(buf)
	n := len(buf)
	if n%2 == 1 {
		return buf[n/2], buf
	}
	return (buf[n/2-1] + buf[n/2]) / 2, buf
}

// peakEWMA folds sample x into the average avg. A worse sample (higher when
// higherIsWorse) replaces the average at once; a better one moves it by
// alpha. The first sample (seeded false) sets the average.
func peakEWMA(avg, x, alpha float64, higherIsWorse, seeded bool) float64 {
	if !seeded {
		return x
	}
	if (higherIsWorse && x > avg) || (!higherIsWorse && x < avg) {
		return x
	}
	return avg + alpha*(x-avg)
}
