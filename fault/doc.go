// Package fault is an HTTP fault filter: it injects delays and aborts (an
// error status, or a connection reset) into a percentage of the requests of
// chosen routes, optionally only for requests that ask for it with
// x-duohuo-fault-* headers — the model of Envoy's HTTP fault filter, with
// the x-envoy-fault-* headers renamed. It is off until rules are set, and
// its rules change at run time through [Filter.Update] or the admin API
// ([Filter.AdminHandler], mounted by the gateway on /v1/faults).
//
// The decision works on a [request.View], so any HTTP stack can drive it;
// [Filter.Handler] is the net/http middleware. Each fault is counted
// ([Filter.Stats]) and reported to an optional [Observer] (the gateway's
// Prometheus counters), so the package needs only the standard library.
//
//	f := fault.New(fault.Options{})
//	spec, err := fault.ParseSpec("delay=200ms@10%,abort=503@1%")
//	if err != nil { … }
//	err = f.Update(fault.Table{Rules: []fault.Rule{
//		{Name: "slow-checkout", PathPrefix: "/checkout", Spec: spec},
//	}})
//	http.ListenAndServe(addr, f.Handler(app))
//
// The compact spec form ([ParseSpec]) is also accepted wherever a Spec is
// read from JSON: {"name": "x", "spec": "abort=reset@5%,header"}.
//
// Header-triggered rules (Spec.HeaderTrigger, Envoy's header_delay and
// header_abort) fault only requests carrying [HeaderDelay] (milliseconds,
// capped by the rule) or [HeaderAbort] (a status or "reset"); the
// percentage headers may lower the rule's percentages. Only peers that
// Options.TrustedPeer trusts may ask (nil trusts none); from anyone else
// the headers are ignored and Handler removes them. Cap concurrent faults
// with Table.MaxActive as well.
package fault
