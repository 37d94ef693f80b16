package gateway

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/duohuo/duohuo/request"
)

// TRACE and OPTIONS as a proxy must treat them (RFC 9110, section 7.6.2):
// Max-Forwards counts the proxies a request may still pass; at 0 the
// recipient answers itself. TRACE is refused unless the route allows it,
// since its echo hands the request's cookies and credentials to whatever
// script sent it.

// hopMethod is the decision for a TRACE or OPTIONS request.
type hopMethod uint8

const (
	hopForward   hopMethod = iota // send it on (Max-Forwards decremented)
	hopAnswer                     // Max-Forwards is 0: the gateway answers
	hopRefuse                     // TRACE on a route that does not allow it: 405
	hopMalformed                  // Max-Forwards is not a number: 400
)

// decideHop decides a TRACE or OPTIONS request with the given
// Max-Forwards values (nil: none) on a route that allows TRACE or not. next
// is the Max-Forwards to forward when the request goes on with one.
func decideHop(method string, maxForwards []string, allowTrace bool) (d hopMethod, next string) {
	if method == http.MethodTrace && !allowTrace {
		return hopRefuse, ""
	}
	if len(maxForwards) == 0 {
		return hopForward, ""
	}
	if len(maxForwards) > 1 {
		return hopMalformed, ""
	}
	n, err := strconv.ParseUint(textproto.TrimString(maxForwards[0]), 10, 31)
	switch {
	case err != nil:
		return hopMalformed, ""
	case n == 0:
		return hopAnswer, ""
	}
	return hopForward, strconv.FormatUint(n-1, 10)
}

// defaultAllow is what Allow lists for a route that matches every method.
const defaultAllow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

// allowOf is the Allow field of a route's own answers.
func allowOf(rt *route) string {
	if len(rt.methods) == 0 {
		allow := defaultAllow
		if rt.allowTrace {
			allow += ", TRACE"
		}
		return allow
	}
	var ms []string
	for _, m := range rt.methods {
		if m != http.MethodTrace || rt.allowTrace {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}

// serveHopMethod applies decideHop to a net/http TRACE or OPTIONS request:
// it answers the request itself and reports true, or prepares it to be
// forwarded and reports false. A request no route takes is left to the
// exchange (404).
func (g *Gateway) serveHopMethod(w http.ResponseWriter, r *http.Request) bool {
	rt := g.table.Load().match(request.NewHTTP(r))
	if rt == nil {
		return false
	}
	d, next := decideHop(r.Method, r.Header["Max-Forwards"], rt.allowTrace)
	switch d {
	case hopRefuse:
		w.Header().Set("Allow", allowOf(rt))
		http.Error(w, "duohuo: TRACE is not allowed on this route", http.StatusMethodNotAllowed)
	case hopMalformed:
		http.Error(w, "duohuo: malformed Max-Forwards", http.StatusBadRequest)
	case hopAnswer:
		if r.Method == http.MethodOptions {
			w.Header().Set("Allow", allowOf(rt))
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return true
		}
		// TRACE: the request as received, without the fields that may
		// carry credentials (RFC 9110, section 9.3.8).
		var b bytes.Buffer
		b.WriteString(r.Method + " " + r.RequestURI + " " + r.Proto + "\r\n")
		h := r.Header.Clone()
		for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
			delete(h, k)
		}
		h.Set("Host", r.Host)
		h.Write(&b)
		b.WriteString("\r\n")
		w.Header().Set("Content-Type", "message/http")
		w.Write(b.Bytes())
	default:
		if next != "" {
			r.Header["Max-Forwards"] = []string{next}
		}
		return false
	}
	return true
}
