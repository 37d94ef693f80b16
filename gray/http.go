package gray

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duohuo/duohuo/internal/httpjson"
)

// HandlerConfig configures [NewHandler]. The zero value is ready to use.
type HandlerConfig struct {
	// Prefix is where the handler is mounted; "" means "/v1/gray".
	Prefix string
	// Who names the author of a change made through r; nil means the
	// X-Duohuo-Who header if present, else "admin@<peer address>". The
	// admin listener's authentication should supply the real principal.
	Who func(r *http.Request) string
	// MaxBody bounds a request body in bytes; 0 means 1 MiB.
	MaxBody int64
	// Routes, when set, lists the routes that exist: a PUT for any other
	// is refused with 404 and the list, so that a typo does not create a
	// policy no request will ever meet. nil accepts any route name.
	Routes func() []string
}

// NewHandler returns the admin API of s, to mount under cfg.Prefix on the
// admin listener (which does the authentication). Endpoints, with P the
// prefix:
//
//	GET    P/routes                     live routes and their revisions
//	GET    P/routes/{route}             live policy, subsets and change
//	PUT    P/routes/{route}             apply a policy (JSON body); ?expect=REV, ?comment=
//	DELETE P/routes/{route}             remove the route's policy
//	POST   P/routes/{route}/rollback    undo the live change; ?expect=REV
//	GET    P/routes/{route}/history     recorded changes, oldest first
//	POST   P/routes/{route}/dry-run     {"request": Probe, "policy": optional candidate}
//	POST   P/validate                   compile a policy without applying it
//
// Errors are JSON: {"error": "...", "fields": [{"field": "rules[0].subset",
// "message": "..."}]}, with 400 for an invalid policy, 404 for an unknown
// route, 409 for a revision conflict or nothing to roll back.
func NewHandler(s *Store, cfg HandlerConfig) http.Handler {
	if cfg.Prefix == "" {
		cfg.Prefix = "/v1/gray"
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	if cfg.Who == nil {
		cfg.Who = defaultWho
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	h := &handler{s: s, cfg: cfg}
	mux := http.NewServeMux()
	p := cfg.Prefix
	mux.HandleFunc("GET "+p+"/routes", h.list)
	mux.HandleFunc("GET "+p+"/routes/{route}", h.get)
	mux.HandleFunc("PUT "+p+"/routes/{route}", h.put)
	mux.HandleFunc("DELETE "+p+"/routes/{route}", h.del)
	mux.HandleFunc("POST "+p+"/routes/{route}/rollback", h.rollback)
	mux.HandleFunc("GET "+p+"/routes/{route}/history", h.history)
	mux.HandleFunc("POST "+p+"/routes/{route}/dry-run", h.dryRun)
	mux.HandleFunc("POST "+p+"/validate", h.validate)
	return mux
}

type handler struct {
	s   *Store
	cfg HandlerConfig
}

func defaultWho(r *http.Request) string {
	if w := r.Header.Get("X-Duohuo-Who"); w != "" {
		return w
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "admin@" + host
}

type routeSummary struct {
	Route    string    `json:"route"`
	Revision uint64    `json:"revision"`
	When     time.Time `json:"when"`
	Who      string    `json:"who,omitempty"`
	Subsets  []string  `json:"subsets"`
	Baseline string    `json:"baseline"`
	Mode     Mode      `json:"mode"`
}

func summary(route string, c Current) routeSummary {
	return routeSummary{Route: route, Revision: c.Change.Revision, When: c.Change.When, Who: c.Change.Who,
		Subsets: c.Router.Subsets(), Baseline: c.Router.Baseline(), Mode: c.Router.Mode()}
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Revision uint64         `json:"revision"`
		Routes   []routeSummary `json:"routes"`
	}{Revision: h.s.Revision(), Routes: []routeSummary{}}
	for _, route := range h.s.Routes() {
		if c, ok := h.s.Get(route); ok {
			out.Routes = append(out.Routes, summary(route, c))
		}
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	route := r.PathValue("route")
	c, ok := h.s.Get(route)
	if !ok {
		writeError(w, fmt.Errorf("%w: %q", ErrNoRoute, route))
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		routeSummary
		Policy Policy `json:"policy"`
	}{summary(route, c), c.Router.Policy()})
}

func (h *handler) meta(r *http.Request) Meta {
	return Meta{Who: h.cfg.Who(r), Comment: r.URL.Query().Get("comment")}
}

func expectParam(r *http.Request) (uint64, error) {
	s := r.URL.Query().Get("expect")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &FieldError{Path: "expect", Msg: "not a revision number"}
	}
	return n, nil
}

func (h *handler) put(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Routes != nil {
		route, routes := r.PathValue("route"), h.cfg.Routes()
		if !slices.Contains(routes, route) {
			slices.Sort(routes)
			httpjson.Write(w, http.StatusNotFound, ErrorBody{Error: fmt.Sprintf("%v: %q is not a route of this gateway", ErrNoRoute, route), Routes: routes})
			return
		}
	}
	expect, err := expectParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var p Policy
	if err := h.decode(w, r, &p); err != nil {
		writeError(w, err)
		return
	}
	c, err := h.s.Apply(r.PathValue("route"), p, expect, h.meta(r))
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, c)
}

func (h *handler) del(w http.ResponseWriter, r *http.Request) {
	expect, err := expectParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := h.s.Delete(r.PathValue("route"), expect, h.meta(r))
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, c)
}

func (h *handler) rollback(w http.ResponseWriter, r *http.Request) {
	expect, err := expectParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	c, err := h.s.Rollback(r.PathValue("route"), expect, h.meta(r))
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, c)
}

func (h *handler) history(w http.ResponseWriter, r *http.Request) {
	route := r.PathValue("route")
	hist := h.s.History(route)
	if len(hist) == 0 {
		writeError(w, fmt.Errorf("%w: %q", ErrNoRoute, route))
		return
	}
	httpjson.Write(w, http.StatusOK, hist)
}

// DryRunRequest is the body of the dry-run endpoint.
type DryRunRequest struct {
	// Request is the request to place.
	Request Probe `json:"request"`
	// Policy, if set, is tried instead of the live one: "where would this
	// request go if I applied this?".
	Policy *Policy `json:"policy,omitempty"`
}

// DryRunResponse is the dry-run endpoint's answer.
type DryRunResponse struct {
	Route string `json:"route"` // the route asked about
	// Revision is the live revision used, 0 for a candidate policy.
	Revision uint64 `json:"revision"`
	Explanation
}

func (h *handler) dryRun(w http.ResponseWriter, r *http.Request) {
	route := r.PathValue("route")
	var body DryRunRequest
	if err := h.decode(w, r, &body); err != nil {
		writeError(w, err)
		return
	}
	resp := DryRunResponse{Route: route}
	var router *Router
	if body.Policy != nil {
		var err error
		if router, err = Compile(*body.Policy); err != nil {
			writeError(w, prefixFields("policy.", err))
			return
		}
	} else {
		c, ok := h.s.Get(route)
		if !ok {
			writeError(w, fmt.Errorf("%w: %q", ErrNoRoute, route))
			return
		}
		router, resp.Revision = c.Router, c.Change.Revision
	}
	e, err := router.Explain(body.Request)
	if err != nil {
		writeError(w, &FieldError{Path: "request." + strings.SplitN(err.Error(), ":", 2)[0], Msg: err.Error()})
		return
	}
	resp.Explanation = e
	httpjson.Write(w, http.StatusOK, resp)
}

func (h *handler) validate(w http.ResponseWriter, r *http.Request) {
	var p Policy
	if err := h.decode(w, r, &p); err != nil {
		writeError(w, err)
		return
	}
	router, err := Compile(p)
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, struct {
		Valid    bool     `json:"valid"`
		Subsets  []string `json:"subsets"`
		Baseline string   `json:"baseline"`
	}{true, router.Subsets(), router.Baseline()})
}

// decode reads the body, one JSON object, into v. Anything else is
// refused, null included: it would decode as the zero value, and a PUT of
// "null" would silently replace the live policy with an empty one.
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] != '{' {
		return fmt.Errorf("%w: body: want a JSON object", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body: trailing data after the JSON value", ErrInvalid)
	}
	return nil
}

func prefixFields(prefix string, err error) error {
	fes := FieldErrors(err)
	out := make([]error, len(fes))
	for i, fe := range fes {
		out[i] = &FieldError{Path: prefix + fe.Path, Msg: fe.Msg}
	}
	return errors.Join(out...)
}

// ErrorBody is the JSON body of every error answer of the handler.
type ErrorBody struct {
	Error  string        `json:"error"`            // the whole error, for people
	Fields []*FieldError `json:"fields,omitempty"` // each invalid field, for tools
	Routes []string      `json:"routes,omitempty"` // the routes that exist, with a 404 for an unknown one
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNoRoute):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNoPrevious):
		code = http.StatusConflict
	}
	httpjson.Write(w, code, ErrorBody{Error: err.Error(), Fields: FieldErrors(err)})
}
