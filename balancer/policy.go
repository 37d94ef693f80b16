package balancer

import "fmt"

// Policy chooses an instance inside one locality tier.
type Policy uint8

// The policies. Every policy respects weights: with no load, each instance
// receives a share of picks proportional to its effective weight.
const (
	// PeakEWMA is power-of-two-choices over peak-EWMA latency, as in
	// Finagle and Linkerd: draw two instances (with probability
	// proportional to weight), keep the one with the lower cost
	// latency × (in-flight + 1). The latency estimate jumps to a slower
	// observation at once and decays towards faster ones with time
	// constant [Config.DecayTime]. This is the default.
	PeakEWMA Policy = iota
	// RoundRobin is nginx's smooth weighted round-robin: over every cycle of
	// Σweight picks each instance gets exactly its weight, interleaved
	// rather than in bursts.
	RoundRobin
	// LeastRequest is power-of-two-choices over in-flight requests, as
	// Envoy's least_request: draw two instances (with probability
	// proportional to weight), keep the one with fewer in-flight requests
	// per unit of weight.
	LeastRequest
)

var policyNames = [...]string{PeakEWMA: "peak_ewma", RoundRobin: "round_robin", LeastRequest: "least_request"}

// String returns the policy's configuration name: "peak_ewma",
// "round_robin" or "least_request".
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// policyAliases are other names ParsePolicy accepts: "p2c_ewma" says how
// [PeakEWMA] picks (power of two choices) as well as what it weighs.
var policyAliases = map[string]Policy{"p2c_ewma": PeakEWMA}

// ParsePolicy returns the policy named s: one of the names [Policy.String]
// returns, or the alias "p2c_ewma" of "peak_ewma". The empty string means
// [PeakEWMA]. The error wraps [ErrInvalidConfig].
func ParsePolicy(s string) (Policy, error) {
	if s == "" {
		return PeakEWMA, nil
	}
	if p, ok := policyAliases[s]; ok {
		return p, nil
	}
	for p, name := range policyNames {
		if s == name {
			return Policy(p), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown policy %q (want peak_ewma (or its alias p2c_ewma), round_robin or least_request)", ErrInvalidConfig, s)
}
