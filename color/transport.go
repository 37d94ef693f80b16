package color

import "net/http"

// Transport returns an http.RoundTripper that colors each outgoing request
// whose context carries a lane ([FromContext], set by
// [Propagator.Middleware] on the incoming request): it writes the lane
// header and baggage member, and a token when Config.SignTTL is set. A
// request without a lane is sent as is. base nil means
// http.DefaultTransport. The RoundTripper is safe for concurrent use and,
// as the contract requires, does not modify the request it is given: it
// sends a copy with its own headers.
//
//	client := &http.Client{Transport: p.Transport(nil)}
//	req, _ := http.NewRequestWithContext(r.Context(), "GET", "http://b/api", nil)
//	resp, err := client.Do(req) // carries the caller's lane
func (p *Propagator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{p: p, base: base}
}

type transport struct {
	p    *Propagator
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	lane, ok := FromContext(req.Context())
	if !ok {
		return t.base.RoundTrip(req)
	}
	r2 := req.Clone(req.Context())
	t.p.Strip(r2.Header) // a stale color copied from elsewhere must not win
	if err := t.p.Set(r2.Header, lane); err != nil {
		closeBody(req)
		return nil, err
	}
	tok, err := t.p.OutgoingToken(lane)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if tok != "" {
		r2.Header.Set(t.p.tokenHeader, tok)
	}
	return t.base.RoundTrip(r2)
}

// closeBody closes the request body, as a RoundTripper must even on error.
func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}
