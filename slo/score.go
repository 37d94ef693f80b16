package slo

import "time"

// Input is one input of the health score: its value, and whether it is
// known at all (an SLI without traffic, a lease the service does not
// hold).
type Input struct {
	Value   float64 `json:"value"`
	Present bool    `json:"present"`
}

// Value returns a present input of value v.
func Value(v float64) Input { return Input{Value: v, Present: true} }

// Inputs are what the health score is made of. Each is optional.
type Inputs struct {
	// Availability is the burn rate of the availability objective over
	// the score's window ([BurnRate]).
	Availability Input `json:"availability_burn"`
	// Latency is the burn rate of the latency objective (the share of
	// events slower than the threshold) over the score's window.
	Latency Input `json:"latency_burn"`
	// Drift is the relative P99 drift of a cloud against the best cloud
	// of the same service over the score's window ([Drift]).
	Drift Input `json:"p99_drift"`
	// Lease is the share of lock lease keep-alives that succeeded,
	// between 0 and 1.
	Lease Input `json:"lease_success"`
	// ReplicaLag is how far the replicated state lags, in seconds.
	ReplicaLag Input `json:"replica_lag_seconds"`
}

// Weights are the relative weights of the inputs in the score. The zero
// Weights means [DefaultWeights]; otherwise an input of weight 0 is left
// out.
type Weights struct {
	Availability float64 `json:"availability"`
	Latency      float64 `json:"latency"`
	Drift        float64 `json:"drift"`
	Lease        float64 `json:"lease"`
	ReplicaLag   float64 `json:"replica_lag"`
}

// DefaultWeights follow the design of duohuo's health model for the three
// inputs it weighs — lease renewal 0.4, latency consistency across clouds
// (drift) 0.4, errors 0.2: lease stability before latency consistency
// before the error rate — and give the latency objective and replica lag
// 0.2 each.
var DefaultWeights = Weights{Availability: 0.2, Latency: 0.2, Drift: 0.4, Lease: 0.4, ReplicaLag: 0.2}

// ScoreConfig says how inputs map to the score. Its zero value is ready to
// use: every field's zero means the default written on it.
type ScoreConfig struct {
	Weights Weights // zero: DefaultWeights
	// MaxBurn is the burn rate at which the availability and latency
	// sub-scores reach 0; 0 means 14.4, the fast page's burn.
	MaxBurn float64
	// MaxDrift is the drift at which the drift sub-score reaches 0; 0
	// means 1 (a P99 twice the best cloud's).
	MaxDrift float64
	// MaxLag is the replica lag still scored 1; the sub-score falls to 0
	// at twice it. 0 means 1s.
	MaxLag time.Duration
}

// Score is a health score and its parts.
type Score struct {
	// Value is Σ wᵢ·sᵢ / Σ wᵢ over the present inputs of positive
	// weight, between 0 (unhealthy) and 1; 1 when no input is present.
	Value float64 `json:"score"`
	// Parts are the sub-scores sᵢ, each between 0 and 1, present where
	// the input is.
	Parts Inputs `json:"parts"`
}

func clamp01(v float64) float64 {
	switch {
	case v > 1:
		return 1
	case v >= 0:
		return v
	}
	return 0 // and NaN
}

// Score computes the health score of in. The sub-scores are:
//
//	availability, latency  1 − clamp(burn / MaxBurn)
//	drift                  1 − clamp(drift / MaxDrift)
//	lease                  clamp(success)
//	replica lag            clamp(2 − lag / MaxLag)
//
// where clamp bounds to [0, 1]. With only lease (L), drift (D) and the
// error share (E, as burn / MaxBurn) present and the default weights, the
// score is 0.4·L + 0.4·(1 − D) + 0.2·(1 − E): the design's
// 0.4·L + 0.4·(1 − D) − 0.2·E moved up by 0.2 into [0, 1], the same order
// of health.
func (c ScoreConfig) Score(in Inputs) Score {
	w := c.Weights
	if w == (Weights{}) {
		w = DefaultWeights
	}
	maxBurn, maxDrift, maxLag := c.MaxBurn, c.MaxDrift, c.MaxLag
	if !(maxBurn > 0) {
		maxBurn = 14.4
	}
	if !(maxDrift > 0) {
		maxDrift = 1
	}
	if maxLag <= 0 {
		maxLag = time.Second
	}
	var s Score
	var sum, wsum float64
	part := func(in Input, weight float64, f func(float64) float64) Input {
		if !in.Present {
			return Input{}
		}
		v := f(in.Value)
		if weight > 0 {
			sum += weight * v
			wsum += weight
		}
		return Value(v)
	}
	s.Parts.Availability = part(in.Availability, w.Availability, func(b float64) float64 { return 1 - clamp01(b/maxBurn) })
	s.Parts.Latency = part(in.Latency, w.Latency, func(b float64) float64 { return 1 - clamp01(b/maxBurn) })
	s.Parts.Drift = part(in.Drift, w.Drift, func(d float64) float64 { return 1 - clamp01(d/maxDrift) })
	s.Parts.Lease = part(in.Lease, w.Lease, clamp01)
	s.Parts.ReplicaLag = part(in.ReplicaLag, w.ReplicaLag, func(l float64) float64 { return clamp01(2 - l/maxLag.Seconds()) })
	s.Value = 1
	if wsum > 0 {
		s.Value = sum / wsum
	}
	return s
}

// Drift returns the relative drift of latency p against best, the lowest
// of its peers (a cloud's P99 against the best cloud's P99 for the same
// service over the same window): (p − best) / best, 0 when p is not above
// best or best is not positive.
func Drift(p, best time.Duration) float64 {
	if best <= 0 || p <= best {
		return 0
	}
	return float64(p-best) / float64(best)
}
