package tcpproxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/duohuo/duohuo/internal/httpjson"
)

// Refusing reports whether the proxy refuses new connections (see
// [Proxy.Refuse]).
func (p *Proxy) Refusing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ln == nil && !p.closed
}

// Status is the state of a proxy as the admin API reports it.
type Status struct {
	Addr     string  `json:"addr"`
	Upstream string  `json:"upstream"`
	Refusing bool    `json:"refusing"`
	Accepted uint64  `json:"accepted"`
	Open     int     `json:"open"`
	Toxics   []Named `json:"toxics"`
}

// Status returns the proxy's address, upstream, refusal, counts and toxics.
func (p *Proxy) Status() Status {
	st := p.Stats()
	t := p.Toxics()
	if t == nil {
		t = []Named{}
	}
	return Status{Addr: p.Addr().String(), Upstream: p.upstream, Refusing: p.Refusing(),
		Accepted: st.Accepted, Open: st.Open, Toxics: t}
}

// AdminHandler returns an HTTP API that controls the proxy at run time, in
// the manner of Toxiproxy's (paths relative to where it is mounted):
//
//	GET    /                  Status as JSON
//	PUT    /toxics/{name}     set a toxic; body: its compact form, e.g. "latency:50ms:10ms@both~0.5"
//	DELETE /toxics/{name}     remove one toxic
//	DELETE /toxics            remove every toxic
//	PUT    /refuse            body "true" or "false": see Proxy.Refuse
//	POST   /reset-conns       reset every open connection; answers {"reset": N}
//
// Changes answer 200 with the new Status; bad input answers 400 with
// {"error": …}. The handler does no authentication: bind it to loopback.
func (p *Proxy) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("PUT /toxics/{name}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err)
			return
		}
		spec := strings.TrimSpace(string(body))
		if strings.Contains(spec, "=") {
			httpjson.Error(w, http.StatusBadRequest, fmt.Errorf("toxic %q: the name comes from the path: %w", spec, ErrInvalidToxic))
			return
		}
		n, err := ParseToxic(r.PathValue("name") + "=" + spec)
		if err == nil {
			err = p.SetNamed(n)
		}
		if err != nil {
			httpjson.Error(w, statusOf(err), err)
			return
		}
		httpjson.Write(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("DELETE /toxics/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Remove(r.PathValue("name")); err != nil {
			httpjson.Error(w, statusOf(err), err)
			return
		}
		httpjson.Write(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("DELETE /toxics", func(w http.ResponseWriter, r *http.Request) {
		p.Clear()
		httpjson.Write(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("PUT /refuse", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64))
		on, err := strconv.ParseBool(strings.TrimSpace(string(body)))
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, fmt.Errorf("refuse: body %q: want true or false", body))
			return
		}
		if err := p.Refuse(on); err != nil {
			httpjson.Error(w, statusOf(err), err)
			return
		}
		httpjson.Write(w, http.StatusOK, p.Status())
	})
	mux.HandleFunc("POST /reset-conns", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]int{"reset": p.ResetConns()})
	})
	return mux
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoToxic):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalidToxic):
		return http.StatusBadRequest
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
