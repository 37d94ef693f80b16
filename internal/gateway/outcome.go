package gateway

import (
	"time"

	"github.com/duohuo/duohuo/balancer"
	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/health"
)

// Class is what happened to one attempt: the one vocabulary of the request
// path. Breaker, health, balancer and metrics each get their own view of it
// from one place ([service.report]).
type Class uint8

// The attempt classes.
const (
	// ClassSuccess: the instance answered with a status below 400.
	ClassSuccess Class = iota
	// ClassClientError: the instance answered 4xx (429 aside): it is up,
	// the request was wrong.
	ClassClientError
	// ClassOverload: the instance answered 429, asking for less traffic.
	ClassOverload
	// ClassGatewayStatus: the instance answered 502, 503 or 504.
	ClassGatewayStatus
	// ClassServerError: the instance answered another 5xx.
	ClassServerError
	// ClassConnect: no connection could be made; nothing was sent.
	ClassConnect
	// ClassReset: the connection broke before the response head, or the
	// response body broke off midway.
	ClassReset
	// ClassTimeout: no response head before the per-try or route deadline,
	// with the client still waiting.
	ClassTimeout
	// ClassProtocol: the instance sent something that is not a valid
	// response.
	ClassProtocol
	// ClassCanceled: the attempt was abandoned: the client went away, or
	// another try of the same request won.
	ClassCanceled
	// ClassClientBody: the client's request body failed (bad framing, too
	// large, too slow, connection lost midway).
	ClassClientBody
	numClasses
)

var classNames = [numClasses]string{"success", "client_error", "overload", "gateway_status", "server_error",
	"connect", "reset", "timeout", "protocol", "canceled", "client_body"}

// String returns the class in snake case, e.g. "gateway_status".
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// classOfStatus is the class of a response status from an instance.
func classOfStatus(code int) Class {
	switch {
	case code == 429:
		return ClassOverload
	case code == 502 || code == 503 || code == 504:
		return ClassGatewayStatus
	case code >= 500 || code < 100:
		return ClassServerError
	case code >= 400:
		return ClassClientError
	}
	return ClassSuccess
}

// Fault says who is to blame for an attempt that did not succeed.
type Fault uint8

// The parties an attempt's failure can be blamed on.
const (
	// FaultNone: nothing went wrong, or nobody is to blame (a hedge that
	// lost its race).
	FaultNone Fault = iota
	// FaultClient: the client (bad body, gone, too slow, too large). Never
	// counts against an instance.
	FaultClient
	// FaultInstance: the instance (unreachable, reset, silent, 5xx).
	FaultInstance
	// FaultGateway: the gateway itself could not carry the attempt out.
	FaultGateway
	// FaultPolicy: a policy stopped the request (open circuit, no
	// instance, budget).
	FaultPolicy
)

var faultNames = [...]string{"none", "client", "instance", "gateway", "policy"}

// String returns "none", "client", "instance", "gateway" or "policy".
func (f Fault) String() string {
	if int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "unknown"
}

// Outcome is how one attempt on one instance ended. Each attempt has
// exactly one, reported once.
type Outcome struct {
	Class Class
	Fault Fault
	// Status is the instance's response status; 0 when there was none.
	Status int
	// Latency runs from sending the attempt to its response head (or to
	// its failure).
	Latency time.Duration
	// Reached is true when some of the request reached the instance, so
	// that a retry of a non-idempotent request could do its work twice.
	Reached bool
	// Bytes is the response body bytes sent on to the client.
	Bytes int64
}

// outcomeOfStatus is the outcome of an attempt that got a response head.
func outcomeOfStatus(code int, lat time.Duration) Outcome {
	o := Outcome{Class: classOfStatus(code), Status: code, Latency: lat, Reached: true}
	switch o.Class {
	case ClassGatewayStatus, ClassServerError, ClassOverload:
		o.Fault = FaultInstance // 429 too: the instance asks for less traffic
	}
	return o
}

// counts reports whether the outcome says something about the instance.
func (o Outcome) counts() bool { return o.Fault == FaultNone || o.Fault == FaultInstance }

// balancerResult is the balancer's view of o.
func (o Outcome) balancerResult() balancer.Result {
	switch {
	case o.Fault == FaultInstance:
		return balancer.Failed
	case o.Fault == FaultNone && o.Class != ClassCanceled:
		return balancer.Succeeded
	}
	return balancer.Neutral
}

// breakerClass is the breaker's view of o: anything the instance is not to
// blame for is Canceled, which breakers do not count.
func (o Outcome) breakerClass() breaker.Class {
	if !o.counts() {
		return breaker.Canceled
	}
	switch o.Class {
	case ClassConnect, ClassReset, ClassProtocol:
		return breaker.Network
	case ClassTimeout:
		return breaker.Timeout
	case ClassCanceled:
		return breaker.Canceled
	}
	return breaker.ClassOfStatus(o.Status)
}

// healthClass is the health tracker's view of o; ok is false when the
// outcome must not be observed at all.
func (o Outcome) healthClass() (health.Class, bool) {
	if !o.counts() || o.Class == ClassCanceled {
		return 0, false
	}
	switch o.Class {
	case ClassConnect, ClassReset, ClassTimeout, ClassProtocol:
		return health.GatewayFailure, true
	}
	return health.ClassOfStatus(o.Status), true
}

// attemptResult is the result label of duohuo_upstream_attempts_total.
func (o Outcome) attemptResult() int {
	if c, ok := o.healthClass(); ok {
		return int(c)
	}
	if o.Fault == FaultClient {
		return resultClientFault
	}
	return resultCanceled
}

// The attempt results beyond health's four classes.
const (
	resultClientFault = 4
	resultCanceled    = 5
)

// report sends the outcome of attempt a to everything that learns from
// attempts: the balancer that picked it, the instance's breaker, the
// health tracker, the route's latency window and the metrics. It is the one
// place outcomes go; each attempt is reported exactly once.
func (s *service) report(a *attempt, o Outcome, rt *route) {
	now := time.Now()
	a.pick.Done(o.Latency, o.balancerResult())
	if a.br != nil {
		a.br.DoneAt(a.tk, o.breakerClass(), o.Latency, now)
	}
	if hc, ok := o.healthClass(); ok {
		s.tracker.Observe(a.pick.Instance.ID, health.Outcome{Class: hc, Latency: o.Latency})
	}
	if o.Fault == FaultNone && o.Class != ClassCanceled && rt != nil {
		rt.latencies.Observe(o.Latency)
	}
	s.attemptSeries(a.pick.Instance)[o.attemptResult()].Inc()
	if a.span != nil {
		a.span.done(o)
	}
}
