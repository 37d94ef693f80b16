package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Config configures a [Tracker]. The zero value is valid: TCP-connect probes
// every 5s, Envoy's outlier-detection defaults, and dynamic weights updated
// every second. Every default is written on its field.
type Config struct {
	Probe   ProbeConfig
	Outlier OutlierConfig
	Weight  WeightConfig
}

// ProbeConfig configures active health checks. One probe goroutine runs per
// instance. Envoy requires thresholds to be set and has no defaults for
// them; the defaults here follow common practice (Kubernetes probes use
// failureThreshold 3, Polaris probes every 10s).
type ProbeConfig struct {
	// Disabled turns active probing off; instances are then Healthy unless
	// passive outlier detection ejects them.
	Disabled bool
	// Path, when set, makes the probe an HTTP GET of this path (it must
	// start with "/"); when empty (and GRPC is false) the probe is a TCP
	// connect.
	Path string
	// GRPC makes the probe a gRPC health check: a call of
	// grpc.health.v1.Health/Check over HTTP/2 that passes only when it
	// ends with status OK and the answer SERVING. It excludes Path and
	// ExpectStatus. False means an HTTP or TCP probe, as Path says.
	GRPC bool
	// GRPCService is the service name a gRPC probe asks about
	// (HealthCheckRequest.service). Empty means the server as a whole, as
	// gRPC's health service defines. It must be valid UTF-8 and is only
	// used with GRPC.
	GRPCService string
	// TLS, when set, makes HTTP and gRPC probes speak TLS with a clone of
	// this configuration: HTTP probes HTTPS (HTTP/1.1), gRPC probes HTTP/2
	// negotiated by ALPN ("h2"); its NextProtos is not used. An empty
	// ServerName is taken from Host when Host is set, else net/http uses
	// the instance address. nil means cleartext: HTTP/1.1 for HTTP probes,
	// HTTP/2 with prior knowledge (h2c) for gRPC probes. TCP probes only
	// connect and do not use it, so that one setting can say how a
	// service's instances speak whatever the probe type.
	TLS *tls.Config
	// DialTLS, when set, makes the encrypted connections of HTTP probes
	// instead of crypto/tls (the gateway sets it for TLCP): HTTP probes
	// then speak HTTPS over what it returns, and TLS is not used. It must
	// complete its handshake within ctx. gRPC probes need HTTP/2 over
	// crypto/tls and refuse to run with it.
	DialTLS func(ctx context.Context, network, addr string) (net.Conn, error)
	// Host is the Host header (the :authority of gRPC probes). Empty means
	// the instance address.
	Host string
	// ExpectStatus is the status an HTTP probe must answer. 0 means any
	// 2xx status, unless ExpectStatuses is set.
	ExpectStatus int
	// ExpectStatuses lists more statuses, or ranges of them, that an HTTP
	// probe may answer: it passes when the status equals ExpectStatus or
	// falls in one of these. Empty (with ExpectStatus 0) means any 2xx
	// status.
	ExpectStatuses []StatusRange
	// Interval is the time between two probes of one instance. 0 means 5s.
	Interval time.Duration
	// Timeout bounds one probe (connect, and for HTTP the whole exchange).
	// 0 means 1s. It is capped at Interval.
	Timeout time.Duration
	// Jitter is the upper bound of a random delay added to every interval
	// (and used as the initial delay) so that probes of many instances and
	// many gateways do not synchronise. 0 means Interval/10; negative means
	// no jitter.
	Jitter time.Duration
	// UnhealthyThreshold is how many consecutive failed probes make an
	// instance Unhealthy. 0 means 3.
	UnhealthyThreshold int
	// HealthyThreshold is how many consecutive successful probes make an
	// Unhealthy instance healthy again. 0 means 2.
	HealthyThreshold int
}

// OutlierConfig configures passive outlier detection from real traffic.
// Defaults are Envoy's (envoy.config.cluster.v3.OutlierDetection), except
// where a field says otherwise.
type OutlierConfig struct {
	// Disabled turns passive outlier detection off. Dynamic weights are
	// still computed.
	Disabled bool
	// Interval is the time between success-rate sweeps. 0 means 10s
	// (Envoy's interval). Consecutive-failure ejections do not wait for it.
	Interval time.Duration
	// BaseEjectionTime is the ejection time of a first ejection; the n-th
	// ejection lasts n × BaseEjectionTime. 0 means 30s.
	BaseEjectionTime time.Duration
	// MaxEjectionTime caps the ejection time. 0 means 300s.
	MaxEjectionTime time.Duration
	// MaxEjectionPercent is the largest share of the service's instances
	// that the 5xx and success-rate detectors may have ejected at once, in
	// percent: an ejection that would put more than this share out is not
	// made. 0 means 10 (Envoy); 100 lets every instance be ejected. With
	// the default, those detectors eject none in services of fewer than 10
	// instances unless AlwaysEjectOne is set. Gateway-failure ejections
	// have their own cap, MaxGatewayEjectionPercent.
	MaxEjectionPercent int
	// AlwaysEjectOne lets one instance be ejected even when that exceeds
	// MaxEjectionPercent (Envoy's always_eject_one_host).
	AlwaysEjectOne bool
	// Consecutive5xx ejects an instance after this many consecutive server
	// errors or gateway failures. 0 means 5; negative disables.
	Consecutive5xx int
	// ConsecutiveGatewayFailure ejects an instance after this many
	// consecutive gateway failures (connect error, reset, timeout). 0 means
	// 5; negative disables. Envoy ships this detector with enforcement 0%
	// (off); duohuo enforces it, because a gateway failure is the clearest
	// sign of a dead instance.
	ConsecutiveGatewayFailure int
	// MaxGatewayEjectionPercent caps, in percent of the service's
	// instances, the ejections made by the consecutive-gateway-failure
	// detector, which MaxEjectionPercent does not cap. 0 means 100: an
	// instance that cannot be reached or does not answer serves nobody,
	// and keeping it in rotation only adds a timeout to every request sent
	// to it; when a whole cloud goes silent, all of its instances must
	// leave at once. Panic mode in the balancer keeps a service from being
	// emptied. Ejections by this detector count towards MaxEjectionPercent
	// for the other detectors.
	MaxGatewayEjectionPercent int
	// SuccessRateMinimumHosts is how many instances must have
	// SuccessRateRequestVolume requests in an interval for the success-rate
	// detector to run. 0 means 5; negative disables the detector.
	SuccessRateMinimumHosts int
	// SuccessRateRequestVolume is the fewest requests in an interval for an
	// instance to take part in the success-rate detector. 0 means 100.
	SuccessRateRequestVolume int
	// SuccessRateStdevFactor ejects instances whose success rate is below
	// mean − factor × standard deviation. 0 means 1.9 (Envoy's 1900/1000).
	SuccessRateStdevFactor float64
	// ProbationSuccesses is how many consecutive successes (real requests
	// or probes) return an instance from Probation to Healthy; any failure
	// during probation ejects it again, for longer. 0 means 5.
	ProbationSuccesses int
}

// WeightConfig configures the dynamic weight. See [Weight] for the formula.
type WeightConfig struct {
	// Interval is how often latency and success-rate averages are updated
	// and weights recomputed. 0 means 1s.
	Interval time.Duration
	// Decay is the time constant τ by which the averages recover: a better
	// interval moves an average by α = 1 − e^(−Interval/τ); a worse one
	// replaces it at once (peak EWMA, as Finagle and Linkerd do, so that a
	// slow or failing instance loses traffic within one interval). 0 means
	// 5s.
	Decay time.Duration
	// LatencyExponent is the exponent applied to reference/latency. 0 means
	// 1; negative makes latency not count.
	LatencyExponent float64
	// SuccessExponent is the exponent k applied to the success rate. 0
	// means 2: at success rate s a request costs 1/s tries on average, and
	// squaring sheds traffic from a failing instance faster than its
	// failures grow.
	SuccessExponent float64
	// MinFactor is the smallest share of its configured weight an
	// instance in service keeps, so that a slow or failing instance still
	// gets a trickle of traffic that re-measures it. 0 means 0.05.
	MinFactor float64
	// ProbationFactor scales the weight of an instance in Probation. 0
	// means 0.25.
	ProbationFactor float64
}

// StatusRange is the HTTP statuses from From to To, both included; a
// single status has From == To.
type StatusRange struct {
	From, To int
}

// String returns "200" or "200-299".
func (r StatusRange) String() string {
	if r.From == r.To {
		return strconv.Itoa(r.From)
	}
	return strconv.Itoa(r.From) + "-" + strconv.Itoa(r.To)
}

// statusOK reports whether an HTTP probe's status passes p.
func (p *ProbeConfig) statusOK(status int) bool {
	if p.ExpectStatus == 0 && len(p.ExpectStatuses) == 0 {
		return status >= 200 && status <= 299
	}
	if status == p.ExpectStatus {
		return true
	}
	for _, r := range p.ExpectStatuses {
		if status >= r.From && status <= r.To {
			return true
		}
	}
	return false
}

// expected describes the statuses that pass p, for probe errors.
func (p *ProbeConfig) expected() string {
	if p.ExpectStatus == 0 && len(p.ExpectStatuses) == 0 {
		return "2xx"
	}
	var parts []string
	if p.ExpectStatus != 0 {
		parts = append(parts, strconv.Itoa(p.ExpectStatus))
	}
	for _, r := range p.ExpectStatuses {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

// ErrConfig is wrapped by the errors of [Config.Validate].
var ErrConfig = errors.New("health: invalid config")

// Validate reports the first invalid field of c, naming it, wrapped around
// [ErrConfig]. A zero Config is valid.
func (c Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s = %v: %s", ErrConfig, field, v, why)
	}
	p, o, w := c.Probe, c.Outlier, c.Weight
	for i, r := range p.ExpectStatuses {
		if r.From < 100 || r.To > 599 || r.From > r.To {
			return bad(fmt.Sprintf("Probe.ExpectStatuses[%d]", i), r, "not a range of HTTP statuses (100 to 599, From ≤ To)")
		}
	}
	switch {
	case p.Path != "" && p.Path[0] != '/':
		return bad("Probe.Path", p.Path, `must start with "/"`)
	case p.Path != "" && !validPath(p.Path):
		return bad("Probe.Path", p.Path, "not a valid request path")
	case p.ExpectStatus != 0 && (p.ExpectStatus < 100 || p.ExpectStatus > 599):
		return bad("Probe.ExpectStatus", p.ExpectStatus, "not an HTTP status")
	case p.GRPC && p.Path != "":
		return bad("Probe.Path", p.Path, "a gRPC probe has no path")
	case p.GRPC && p.ExpectStatus != 0:
		return bad("Probe.ExpectStatus", p.ExpectStatus, "a gRPC probe expects SERVING")
	case p.GRPC && len(p.ExpectStatuses) != 0:
		return bad("Probe.ExpectStatuses", p.ExpectStatuses, "a gRPC probe expects SERVING")
	case p.GRPC && p.DialTLS != nil:
		return bad("Probe.DialTLS", "set", "a gRPC probe needs HTTP/2 over crypto/tls")
	case !p.GRPC && p.GRPCService != "":
		return bad("Probe.GRPCService", p.GRPCService, "only used with GRPC")
	case !utf8.ValidString(p.GRPCService):
		return bad("Probe.GRPCService", fmt.Sprintf("%q", p.GRPCService), "not valid UTF-8")
	case p.Interval < 0:
		return bad("Probe.Interval", p.Interval, "negative")
	case p.Timeout < 0:
		return bad("Probe.Timeout", p.Timeout, "negative")
	case p.UnhealthyThreshold < 0:
		return bad("Probe.UnhealthyThreshold", p.UnhealthyThreshold, "negative")
	case p.HealthyThreshold < 0:
		return bad("Probe.HealthyThreshold", p.HealthyThreshold, "negative")
	case o.Interval < 0:
		return bad("Outlier.Interval", o.Interval, "negative")
	case o.BaseEjectionTime < 0:
		return bad("Outlier.BaseEjectionTime", o.BaseEjectionTime, "negative")
	case o.MaxEjectionTime < 0:
		return bad("Outlier.MaxEjectionTime", o.MaxEjectionTime, "negative")
	case o.MaxEjectionPercent < 0 || o.MaxEjectionPercent > 100:
		return bad("Outlier.MaxEjectionPercent", o.MaxEjectionPercent, "not in 0..100")
	case o.MaxGatewayEjectionPercent < 0 || o.MaxGatewayEjectionPercent > 100:
		return bad("Outlier.MaxGatewayEjectionPercent", o.MaxGatewayEjectionPercent, "not in 0..100")
	case o.SuccessRateRequestVolume < 0:
		return bad("Outlier.SuccessRateRequestVolume", o.SuccessRateRequestVolume, "negative")
	case o.SuccessRateStdevFactor < 0:
		return bad("Outlier.SuccessRateStdevFactor", o.SuccessRateStdevFactor, "negative")
	case o.ProbationSuccesses < 0:
		return bad("Outlier.ProbationSuccesses", o.ProbationSuccesses, "negative")
	case w.Interval < 0:
		return bad("Weight.Interval", w.Interval, "negative")
	case w.Decay < 0:
		return bad("Weight.Decay", w.Decay, "negative")
	case w.SuccessExponent < 0:
		return bad("Weight.SuccessExponent", w.SuccessExponent, "negative")
	case w.MinFactor < 0 || w.MinFactor > 1:
		return bad("Weight.MinFactor", w.MinFactor, "not in 0..1")
	case w.ProbationFactor < 0 || w.ProbationFactor > 1:
		return bad("Weight.ProbationFactor", w.ProbationFactor, "not in 0..1")
	}
	return nil
}

// validPath reports whether p can go on an HTTP request line as is.
func validPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] == 0x7f {
			return false
		}
	}
	u, err := url.ParseRequestURI(p)
	return err == nil && u.Host == "" && u.Scheme == ""
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	p := &c.Probe
	def(&p.Interval, 5*time.Second)
	def(&p.Timeout, time.Second)
	p.Timeout = min(p.Timeout, p.Interval)
	def(&p.Jitter, p.Interval/10)
	p.Jitter = max(p.Jitter, 0)
	def(&p.UnhealthyThreshold, 3)
	def(&p.HealthyThreshold, 2)

	o := &c.Outlier
	def(&o.Interval, 10*time.Second)
	def(&o.BaseEjectionTime, 30*time.Second)
	def(&o.MaxEjectionTime, 300*time.Second)
	def(&o.MaxEjectionPercent, 10)
	def(&o.Consecutive5xx, 5)
	def(&o.ConsecutiveGatewayFailure, 5)
	def(&o.SuccessRateMinimumHosts, 5)
	def(&o.SuccessRateRequestVolume, 100)
	def(&o.SuccessRateStdevFactor, 1.9)
	def(&o.ProbationSuccesses, 5)

	w := &c.Weight
	def(&w.Interval, time.Second)
	def(&w.Decay, 5*time.Second)
	def(&w.LatencyExponent, 1)
	w.LatencyExponent = max(w.LatencyExponent, 0)
	def(&w.SuccessExponent, 2)
	def(&w.MinFactor, 0.05)
	def(&w.ProbationFactor, 0.25)
	return c
}

func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
