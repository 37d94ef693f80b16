package analysis

import (
	"fmt"
	"math"
	"time"
)

// Cohort is what was observed of one subset over one window: requests,
// errors and a latency histogram.
type Cohort struct {
	Requests uint64    // all requests of the window
	Errors   uint64    // failed ones among them (at most Requests)
	Latency  Histogram // of all requests; may be empty
}

// SuccessRate returns (Requests − Errors) / Requests, or 0 without
// requests.
func (c Cohort) SuccessRate() float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.Requests-min(c.Errors, c.Requests)) / float64(c.Requests)
}

// SLO is the bar a canary must clear against its baseline. The zero value
// uses every default.
type SLO struct {
	// MinRequests each cohort needs before any verdict; 0 means 200.
	MinRequests uint64
	// MaxSuccessDrop is how much lower, in absolute terms, the canary's
	// success rate may be than the baseline's (0.01 = one percentage
	// point); 0 means 0.005. The drop counts only when it is also
	// statistically significant.
	MaxSuccessDrop float64
	// Confidence of the one-sided two-proportion z-test; 0 means 0.95.
	Confidence float64
	// MaxP99Ratio is how many times the baseline's p99 the canary's may
	// be; 0 means 1.2.
	MaxP99Ratio float64
	// P99Slack is an absolute latency difference that never counts as
	// worse, so that 1 ms against 2 ms is not a failed canary; 0 means
	// 5 ms.
	P99Slack time.Duration
}

func (s SLO) withDefaults() SLO {
	if s.MinRequests == 0 {
		s.MinRequests = 200
	}
	if s.MaxSuccessDrop == 0 {
		s.MaxSuccessDrop = 0.005
	}
	if s.Confidence == 0 {
		s.Confidence = 0.95
	}
	if s.MaxP99Ratio == 0 {
		s.MaxP99Ratio = 1.2
	}
	if s.P99Slack == 0 {
		s.P99Slack = 5 * time.Millisecond
	}
	return s
}

// Verdict is the outcome of a comparison.
type Verdict uint8

// The verdicts, as Argo Rollouts names the outcomes of an analysis run.
const (
	// Inconclusive: too few requests to say (keep waiting; do not promote).
	Inconclusive Verdict = iota
	// NotWorse: enough requests, and no check found the canary worse.
	NotWorse
	// Worse: at least one check found the canary worse (roll back).
	Worse
)

// String returns "inconclusive", "not worse" or "worse".
func (v Verdict) String() string {
	switch v {
	case NotWorse:
		return "not worse"
	case Worse:
		return "worse"
	}
	return "inconclusive"
}

// MarshalText encodes v as its String.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Result is a verdict with the figures behind it.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Reasons explain the verdict, one line per check.
	Reasons []string `json:"reasons"`
	// CanarySuccess and BaselineSuccess are the success rates, 0 to 1.
	CanarySuccess   float64 `json:"canary_success"`
	BaselineSuccess float64 `json:"baseline_success"`
	// Z is the test statistic of "the canary's success rate is lower by
	// more than MaxSuccessDrop"; above ZCritical (the one-sided normal
	// quantile of SLO.Confidence) means significant.
	Z         float64 `json:"z"`
	ZCritical float64 `json:"z_critical"`
	// CanaryP99 and BaselineP99 are interpolated from the histograms; 0
	// when a cohort has no latency samples.
	CanaryP99   time.Duration `json:"canary_p99"`
	BaselineP99 time.Duration `json:"baseline_p99"`
}

// Compare says whether canary is worse than baseline under slo. Two checks
// run once both cohorts have slo.MinRequests requests:
//
//   - success rate: a one-sided two-proportion z-test of
//     H0: p_baseline − p_canary ≤ MaxSuccessDrop, using the unpooled
//     standard error (the null is not equality); the canary is worse when
//     H0 is rejected at slo.Confidence;
//   - p99 latency (from the histograms): worse when the canary's p99 is
//     above MaxP99Ratio × the baseline's and more than P99Slack above it.
//
// Compare is a pure function.
func Compare(canary, baseline Cohort, slo SLO) Result {
	slo = slo.withDefaults()
	res := Result{CanarySuccess: canary.SuccessRate(), BaselineSuccess: baseline.SuccessRate(), ZCritical: zQuantile(slo.Confidence)}
	if canary.Requests < slo.MinRequests || baseline.Requests < slo.MinRequests {
		res.Reasons = append(res.Reasons, fmt.Sprintf("too few requests: canary %d, baseline %d, need %d each",
			canary.Requests, baseline.Requests, slo.MinRequests))
		return res
	}
	res.Verdict = NotWorse

	pc, pb := res.CanarySuccess, res.BaselineSuccess
	nc, nb := float64(canary.Requests), float64(baseline.Requests)
	se := math.Sqrt(pc*(1-pc)/nc + pb*(1-pb)/nb)
	diff := pb - pc
	switch {
	case se == 0 && diff > slo.MaxSuccessDrop:
		res.Z = math.Inf(1)
	case se == 0:
		res.Z = math.Inf(-1)
	default:
		res.Z = (diff - slo.MaxSuccessDrop) / se
	}
	if res.Z > res.ZCritical {
		res.Verdict = Worse
		res.Reasons = append(res.Reasons, fmt.Sprintf("success rate %.4f vs baseline %.4f: a drop above %.4f (z = %.2f > %.2f)",
			pc, pb, slo.MaxSuccessDrop, res.Z, res.ZCritical))
	} else {
		res.Reasons = append(res.Reasons, fmt.Sprintf("success rate %.4f vs baseline %.4f: no significant drop above %.4f (z = %.2f ≤ %.2f)",
			pc, pb, slo.MaxSuccessDrop, res.Z, res.ZCritical))
	}

	cp, cok := canary.Latency.Quantile(0.99)
	bp, bok := baseline.Latency.Quantile(0.99)
	res.CanaryP99, res.BaselineP99 = cp, bp
	switch {
	case !cok || !bok:
		res.Reasons = append(res.Reasons, "p99: no latency samples to compare")
	case float64(cp) > slo.MaxP99Ratio*float64(bp) && cp-bp > slo.P99Slack:
		res.Verdict = Worse
		res.Reasons = append(res.Reasons, fmt.Sprintf("p99 %v vs baseline %v: above %.2f× and more than %v slower", cp, bp, slo.MaxP99Ratio, slo.P99Slack))
	default:
		res.Reasons = append(res.Reasons, fmt.Sprintf("p99 %v vs baseline %v: within %.2f× or %v", cp, bp, slo.MaxP99Ratio, slo.P99Slack))
	}
	return res
}

// zQuantile returns the standard normal quantile of p (0 < p < 1), by
// Acklam's rational approximation (relative error below 1.2e-9).
func zQuantile(p float64) float64 {
	if p <= 0 || p >= 1 {
		return math.NaN()
	}
	a := [...]float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := [...]float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := [...]float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := [...]float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	const lo, hi = 0.02425, 1 - 0.02425
	switch {
	case p < lo:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > hi:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	default:
		q := p - 0.5
		r := q * q
		return (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
	}
}
