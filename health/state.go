package health

import (
	"fmt"
	"time"
)

// Status is the health status of one instance.
type Status uint8

// The statuses. Only Healthy and Probation instances are in service (have a
// non-zero weight).
const (
	// Healthy: in service.
	Healthy Status = iota
	// Unhealthy: failed Probe.UnhealthyThreshold consecutive active probes;
	// out of service until Probe.HealthyThreshold probes pass. Active health
	// wins over every passive status.
	Unhealthy
	// Ejected: passive outlier detection took it out of service until its
	// ejection time ends; ejections are capped by
	// Outlier.MaxEjectionPercent.
	Ejected
	// Probation: back from an ejection with a reduced weight; a failure
	// ejects it again for longer, Outlier.ProbationSuccesses successes make
	// it Healthy.
	Probation
)

var statusNames = [...]string{"healthy", "unhealthy", "ejected", "probation"}

// String returns "healthy", "unhealthy", "ejected" or "probation".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// InService reports whether an instance with this status may receive
// traffic.
func (s Status) InService() bool { return s == Healthy || s == Probation }

// Class is the class of one request outcome, as far as health is concerned.
type Class uint8

// The outcome classes.
const (
	// Success: the instance answered with a status below 400 (or the
	// protocol's equivalent).
	Success Class = iota
	// GatewayFailure: the instance could not be reached or did not answer:
	// connect refused, reset, timeout. Counts for both consecutive
	// detectors and the success rate; its latency is not measured, because
	// a refused connection is fast and would make a dead instance look
	// quick.
	GatewayFailure
	// ServerError: the instance answered 5xx. Counts for Consecutive5xx and
	// the success rate.
	ServerError
	// ClientError: the instance answered 4xx. It says nothing about the
	// instance's health and is ignored, except that its latency is
	// measured.
	ClientError
)

var classNames = [...]string{"success", "gateway_failure", "server_error", "client_error"}

// String returns "success", "gateway_failure", "server_error" or
// "client_error".
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// ClassOfStatus returns the Class of an HTTP response status.
func ClassOfStatus(code int) Class {
	switch {
	case code >= 500:
		return ServerError
	case code >= 400:
		return ClientError
	default:
		return Success
	}
}

// Outcome is what the proxy learned from one attempt on one instance.
type Outcome struct {
	Class   Class
	Latency time.Duration // from sending the request to the response header
}

// State is the health of one instance at one moment. It is a value: a
// State returned by a [Tracker] never changes.
type State struct {
	ID     string
	Status Status
	// Weight is the effective weight the balancer should use: the dynamic
	// weight (see [DynamicWeight]) while in service, scaled by
	// Weight.ProbationFactor in Probation, and 0 when Unhealthy or Ejected
	// or when Configured is 0.
	Weight uint32
	// Configured is the instance's configured weight (discovery.Instance.Weight).
	Configured uint32
	// Latency is the instance's latency average (peak EWMA), 0 until
	// measured.
	Latency time.Duration
	// SuccessRate is the instance's success-rate average in [0, 1], 1 until
	// measured.
	SuccessRate float64
	// Ejections is the ejection multiplier: the next ejection lasts
	// (Ejections+1) × BaseEjectionTime. It grows by one per ejection and
	// shrinks by one per outlier interval spent Healthy.
	Ejections int
	// EjectedUntil is when the current ejection ends; zero when not
	// Ejected.
	EjectedUntil time.Time
	// Reason says why the instance has its status, e.g. "5 consecutive
	// 5xx" or "probe: dial tcp …: connection refused"; empty when Healthy
	// for no particular reason.
	Reason string
}
