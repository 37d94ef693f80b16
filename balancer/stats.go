package balancer

import (
	"math"
	"sync/atomic"
	"time"
)

// successOne is a success rate of 100% in the fixed point of stats.success.
const successOne = 1 << 16

// stats are the runtime statistics of one instance. They are shared by
// every snapshot that contains the instance and updated with atomics only.
type stats struct {
	inflight atomic.Int64
	// ewma packs the peak-EWMA latency in nanoseconds as float32 bits (high
	// half) and the time of the last observation in milliseconds (low half,
	// see Balancer.nowMs), so that one compare-and-swap updates both.
	ewma atomic.Uint64
	// success is the recent success rate, successOne = 100%.
	success atomic.Uint32
	_       [44]byte // keep instances on separate cache lines
}

func newStats(initialNs float64, nowMs uint32) *stats {
	s := &stats{}
	s.ewma.Store(packEWMA(initialNs, nowMs))
	s.success.Store(successOne)
	return s
}

func packEWMA(ns float64, ms uint32) uint64 {
	return uint64(math.Float32bits(float32(ns)))<<32 | uint64(ms)
}

func unpackEWMA(v uint64) (ns float64, ms uint32) {
	return float64(math.Float32frombits(uint32(v >> 32))), uint32(v)
}

// elapsed returns now-then in milliseconds, 0 if then is later (another
// goroutine stamped with a clock read after ours).
func elapsed(now, then uint32) float64 {
	d := int32(now - then)
	if d < 0 {
		return 0
	}
	return float64(d)
}

// observe folds one latency observation rtt (ns) into the peak-EWMA, as
// Finagle's PeakEwma does: a slower observation replaces the estimate at
// once (peak sensitivity, so a degrading instance is avoided immediately);
// a faster one is averaged in with weight 1-e^(-Δt/τ), so the estimate
// recovers over a few τ. tau is in milliseconds. With onlyPeak (a failed
// attempt) a faster observation is dropped.
func (s *stats) observe(nowMs uint32, rtt, tau float64, onlyPeak bool) {
	for {
		old := s.ewma.Load()
		cost, stamp := unpackEWMA(old)
		w := 1.0 // no time has passed: the old estimate weighs 1
		if d := elapsed(nowMs, stamp); d > 0 {
			w = math.Exp(-d / tau)
		}
		cur := cost * w // the estimate as Pick sees it now
		if onlyPeak && rtt <= cur {
			return
		}
		next := rtt
		if rtt <= cur {
			next = cur + rtt*(1-w)
		}
		if int32(nowMs-stamp) < 0 {
			nowMs = stamp
		}
		if s.ewma.CompareAndSwap(old, packEWMA(next, nowMs)) {
			return
		}
	}
}

// latency returns the peak-EWMA decayed to now as if a zero latency had
// been observed, without storing it: an instance that has not answered
// for a while looks cheaper and is tried again (Finagle's get()).
func (s *stats) latency(nowMs uint32, tau float64) float64 {
	cost, stamp := unpackEWMA(s.ewma.Load())
	if d := elapsed(nowMs, stamp); d > 0 {
		// Skipped within the same millisecond, the common case under load:
		// math.Exp is the largest cost of a pick after the clock read.
		cost *= math.Exp(-d / tau)
	}
	return cost
}

// record folds one outcome into the success rate with weight 1/16.
func (s *stats) record(ok bool) {
	for {
		old := s.success.Load()
		next := old - old>>4
		if ok {
			next += successOne >> 4
		}
		if s.success.CompareAndSwap(old, next) {
			return
		}
	}
}

func (s *stats) snapshot(nowMs uint32, tau float64) Stats {
	return Stats{
		InFlight: s.inflight.Load(),
		Latency:  time.Duration(s.latency(nowMs, tau)),
		Success:  float64(s.success.Load()) / successOne,
	}
}
