package toxiapi

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// DefaultVersion is the body of GET /version when [Config.Version] is
// empty: the Toxiproxy release whose API the server speaks.
const DefaultVersion = "2.5.0"

// DefaultMaxBodyBytes bounds request bodies when [Config.MaxBodyBytes] is 0.
const DefaultMaxBodyBytes = 1 << 20

// Config configures a [Server]. The zero value is ready to use: proxies on
// loopback only, 1 MiB bodies, version "2.5.0".
type Config struct {
	// AllowRemote lets proxies listen on any address. When false, a
	// listen address with an IP that is not loopback is refused (403), one
	// with an empty host (":6379", or no listen at all) binds 127.0.0.1,
	// and a host name must resolve to a loopback address.
	AllowRemote bool
	// Version is the body of GET /version; "" means [DefaultVersion].
	Version string
	// MaxBodyBytes bounds every request body (413 past it); 0 means
	// [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// DialTimeout bounds each proxy's dial to its upstream; 0 means
	// tcpproxy's default.
	DialTimeout time.Duration
}

// Server serves Toxiproxy 2.5.0's HTTP API over [tcpproxy] proxies, so that
// Toxiproxy clients and test suites work unchanged. It is an http.Handler;
// the caller runs the HTTP server and must call [Server.Close], which
// closes every proxy.
//
// All methods are safe for concurrent use. The API has no authentication,
// as Toxiproxy's has none: serve it on loopback. Like Toxiproxy, it refuses
// requests from browsers (a User-Agent starting "Mozilla/", or an Origin
// header), so that a web page cannot open ports through it.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu      sync.Mutex // guards the fields below and every proxy's fields
	proxies map[string]*proxy
	closed  bool
}

// proxy is one proxy of the API. tp is nil while the proxy is disabled: a
// disabled proxy holds no port, as in Toxiproxy.
type proxy struct {
	name, listen, upstream string
	enabled                bool
	toxics                 []*toxic // in the order they were added
	tp                     *tcpproxy.Proxy
}

// New returns a server with no proxies.
func New(cfg Config) *Server {
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), proxies: make(map[string]*proxy)}
	s.handle("POST /reset", s.reset)
	s.handle("GET /proxies", s.proxyIndex)
	s.handle("POST /proxies", s.proxyCreate)
	s.handle("POST /populate", s.populateHTTP)
	s.handle("GET /proxies/{proxy}", s.proxyShow)
	s.handle("POST /proxies/{proxy}", s.proxyUpdate)
	s.handle("DELETE /proxies/{proxy}", s.proxyDelete)
	s.handle("GET /proxies/{proxy}/toxics", s.toxicIndex)
	s.handle("POST /proxies/{proxy}/toxics", s.toxicCreate)
	s.handle("GET /proxies/{proxy}/toxics/{toxic}", s.toxicShow)
	s.handle("POST /proxies/{proxy}/toxics/{toxic}", s.toxicUpdate)
	s.handle("DELETE /proxies/{proxy}/toxics/{toxic}", s.toxicDelete)
	s.mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		io.WriteString(w, s.cfg.Version)
	})
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.UserAgent(), "Mozilla/") || r.Header.Get("Origin") != "" {
		writeError(w, errBrowser)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// reply is what a handler answers: a status and a value written as JSON,
// or no body for 204.
type reply struct {
	status int
	body   any
}

// handle registers a handler that runs with s.mu held and answers either
// a reply or an error.
func (s *Server) handle(pattern string, h func(r *http.Request, body []byte) (reply, *Error)) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				writeError(w, &Error{"bad request body: larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", http.StatusRequestEntityTooLarge})
				return
			}
			writeError(w, badBody(err))
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			writeError(w, errClosed)
			return
		}
		rep, apiErr := h(r, body)
		var data []byte
		if apiErr == nil && rep.body != nil {
			data, _ = json.Marshal(rep.body) // the values are plain data: cannot fail
		}
		s.mu.Unlock()
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}
		if data != nil {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(rep.status)
		w.Write(data)
	})
}

func writeError(w http.ResponseWriter, e *Error) {
	data, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(append(data, '\n'))
}

// proxyJSON is a proxy as Toxiproxy 2.5.0 writes it.
type proxyJSON struct {
	Name     string      `json:"name"`
	Listen   string      `json:"listen"`
	Upstream string      `json:"upstream"`
	Enabled  bool        `json:"enabled"`
	Toxics   []toxicJSON `json:"toxics"`
}

func (p *proxy) view() proxyJSON {
	return proxyJSON{Name: p.name, Listen: p.listen, Upstream: p.upstream, Enabled: p.enabled, Toxics: p.toxicViews()}
}

// toxicViews lists the toxics as Toxiproxy does: the upstream ones, then
// the downstream ones, each in the order they were added.
func (p *proxy) toxicViews() []toxicJSON {
	out := make([]toxicJSON, 0, len(p.toxics))
	for _, d := range [2]tcpproxy.Direction{tcpproxy.Upstream, tcpproxy.Downstream} {
		for _, t := range p.toxics {
			if t.dir == d {
				out = append(out, t.view())
			}
		}
	}
	return out
}

func (p *proxy) findToxic(name string) int {
	return slices.IndexFunc(p.toxics, func(t *toxic) bool { return t.name == name })
}

// start listens and sets the toxics, if the proxy is not already running.
// s.mu must be held.
func (s *Server) start(p *proxy) *Error {
	if p.tp != nil {
		return nil
	}
	addr, apiErr := s.bindAddr(p.listen)
	if apiErr != nil {
		return apiErr
	}
	var opts []tcpproxy.Option
	if s.cfg.DialTimeout > 0 {
		opts = append(opts, tcpproxy.WithDialTimeout(s.cfg.DialTimeout))
	}
	tp, err := tcpproxy.Listen(addr, p.upstream, opts...)
	if err != nil {
		return listenError(err)
	}
	if ip := tp.Addr().(*net.TCPAddr).IP; !s.cfg.AllowRemote && !ip.IsLoopback() {
		tp.Close()
		return remoteRefused(tp.Addr().String())
	}
	for _, t := range p.toxics {
		if n, ok := t.named(); ok {
			if err := tp.SetNamed(n); err != nil {
				tp.Close()
				return &Error{err.Error(), http.StatusInternalServerError}
			}
		}
	}
	p.tp, p.enabled = tp, true
	// As Toxiproxy does, the proxy reports the address it got, so that
	// port 0 reads back as the port chosen.
	p.listen = tp.Addr().String()
	return nil
}

// stop closes the proxy's port and connections. s.mu must be held.
func (s *Server) stop(p *proxy) {
	if p.tp != nil {
		p.tp.Close()
		p.tp = nil
	}
	p.enabled = false
}

// bindAddr applies the loopback rule of [Config.AllowRemote] to a listen
// address before binding. Addresses that do not parse are passed on for
// net.Listen to refuse with its own message, as Toxiproxy does.
func (s *Server) bindAddr(listen string) (string, *Error) {
	if s.cfg.AllowRemote {
		return listen, nil
	}
	if listen == "" {
		return "127.0.0.1:0", nil
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen, nil
	}
	if host == "" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() {
		return "", remoteRefused(listen)
	}
	return listen, nil
}

// apply sets t on the running proxy, or removes it there if it does
// nothing. s.mu must be held.
func (p *proxy) apply(t *toxic) *Error {
	if p.tp == nil {
		return nil
	}
	n, ok := t.named()
	var err error
	if ok {
		err = p.tp.SetNamed(n)
	} else if err = p.tp.Remove(t.name); errors.Is(err, tcpproxy.ErrNoToxic) {
		err = nil
	}
	if err != nil {
		return &Error{err.Error(), http.StatusInternalServerError}
	}
	return nil
}

func (s *Server) get(r *http.Request) (*proxy, *Error) {
	p, ok := s.proxies[r.PathValue("proxy")]
	if !ok {
		return nil, errProxyNotFound
	}
	return p, nil
}

func (s *Server) proxyIndex(r *http.Request, _ []byte) (reply, *Error) {
	out := make(map[string]proxyJSON, len(s.proxies))
	for name, p := range s.proxies {
		out[name] = p.view()
	}
	return reply{http.StatusOK, out}, nil
}

// proxyInput is the body of POST /proxies and of one entry of /populate.
type proxyInput struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  *bool  `json:"enabled"` // nil = true
}

func decodeProxy(body []byte) (proxyInput, *Error) {
	var in proxyInput
	if err := json.Unmarshal(body, &in); err != nil {
		return in, badBody(err)
	}
	switch {
	case in.Name == "":
		return in, missingField("name")
	case in.Upstream == "":
		return in, missingField("upstream")
	}
	return in, nil
}

func (s *Server) proxyCreate(r *http.Request, body []byte) (reply, *Error) {
	in, apiErr := decodeProxy(body)
	if apiErr != nil {
		return reply{}, apiErr
	}
	if _, ok := s.proxies[in.Name]; ok {
		return reply{}, errProxyAlreadyExists
	}
	p := &proxy{name: in.Name, listen: in.Listen, upstream: in.Upstream}
	if in.Enabled == nil || *in.Enabled {
		if apiErr := s.start(p); apiErr != nil {
			return reply{}, apiErr
		}
	}
	s.proxies[p.name] = p
	return reply{http.StatusCreated, p.view()}, nil
}

func (s *Server) proxyShow(r *http.Request, _ []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	return reply{http.StatusOK, p.view()}, nil
}

// proxyUpdate changes listen, upstream and enabled, each defaulting to its
// current value. A new address or upstream restarts the proxy, closing its
// connections, as in Toxiproxy.
func (s *Server) proxyUpdate(r *http.Request, body []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	in := struct {
		Listen   string `json:"listen"`
		Upstream string `json:"upstream"`
		Enabled  bool   `json:"enabled"`
	}{p.listen, p.upstream, p.enabled}
	if err := json.Unmarshal(body, &in); err != nil {
		return reply{}, badBody(err)
	}
	if in.Listen != p.listen || in.Upstream != p.upstream {
		s.stop(p)
		p.listen, p.upstream = in.Listen, in.Upstream
	}
	if in.Enabled && !p.enabled {
		if apiErr := s.start(p); apiErr != nil {
			return reply{}, apiErr
		}
	} else if !in.Enabled {
		s.stop(p)
	}
	return reply{http.StatusOK, p.view()}, nil
}

func (s *Server) proxyDelete(r *http.Request, _ []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	s.stop(p)
	delete(s.proxies, p.name)
	return reply{status: http.StatusNoContent}, nil
}

func (s *Server) toxicIndex(r *http.Request, _ []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	return reply{http.StatusOK, p.toxicViews()}, nil
}

func (s *Server) toxicCreate(r *http.Request, body []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	t, apiErr := decodeToxic(body)
	if apiErr != nil {
		return reply{}, apiErr
	}
	if p.findToxic(t.name) >= 0 {
		return reply{}, errToxicAlreadyExists
	}
	if apiErr := p.apply(t); apiErr != nil {
		return reply{}, apiErr
	}
	p.toxics = append(p.toxics, t)
	// Toxiproxy answers 200 here, not 201.
	return reply{http.StatusOK, t.view()}, nil
}

func (s *Server) toxicShow(r *http.Request, _ []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	i := p.findToxic(r.PathValue("toxic"))
	if i < 0 {
		return reply{}, errToxicNotFound
	}
	return reply{http.StatusOK, p.toxics[i].view()}, nil
}

func (s *Server) toxicUpdate(r *http.Request, body []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	i := p.findToxic(r.PathValue("toxic"))
	if i < 0 {
		return reply{}, errToxicNotFound
	}
	t, apiErr := decodeToxicUpdate(p.toxics[i], body)
	if apiErr != nil {
		return reply{}, apiErr
	}
	if apiErr := p.apply(t); apiErr != nil {
		return reply{}, apiErr
	}
	p.toxics[i] = t
	return reply{http.StatusOK, t.view()}, nil
}

func (s *Server) toxicDelete(r *http.Request, _ []byte) (reply, *Error) {
	p, apiErr := s.get(r)
	if apiErr != nil {
		return reply{}, apiErr
	}
	i := p.findToxic(r.PathValue("toxic"))
	if i < 0 {
		return reply{}, errToxicNotFound
	}
	if p.tp != nil {
		if err := p.tp.Remove(p.toxics[i].name); err != nil && !errors.Is(err, tcpproxy.ErrNoToxic) {
			return reply{}, &Error{err.Error(), http.StatusInternalServerError}
		}
	}
	p.toxics = slices.Delete(p.toxics, i, i+1)
	return reply{status: http.StatusNoContent}, nil
}

// reset enables every proxy and removes every toxic (POST /reset).
func (s *Server) reset(r *http.Request, _ []byte) (reply, *Error) {
	for _, p := range s.proxies {
		if apiErr := s.start(p); apiErr != nil {
			return reply{}, apiErr
		}
		p.tp.Clear()
		p.toxics = nil
	}
	return reply{status: http.StatusNoContent}, nil
}

func (s *Server) populateHTTP(r *http.Request, body []byte) (reply, *Error) {
	got, apiErr := s.populate(body)
	out := struct {
		*Error  `json:",omitempty"`
		Proxies []proxyJSON `json:"proxies"`
	}{Error: apiErr}
	for _, p := range got {
		out.Proxies = append(out.Proxies, p.view())
	}
	status := http.StatusCreated
	if apiErr != nil {
		status = apiErr.Status
	}
	// The answer carries the proxies made before an error, so it is a
	// reply either way.
	return reply{status, out}, nil
}

// populate creates or replaces the proxies of a JSON array (POST
// /populate, and Toxiproxy's -config file). A proxy whose name, listen
// address and upstream are all unchanged is kept with its toxics and
// connections; one whose address or upstream changed is replaced. Every
// entry is checked before any proxy is made; on a later error, the proxies
// made so far stay and are returned with it. s.mu must be held.
func (s *Server) populate(body []byte) ([]*proxy, *Error) {
	var in []proxyInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badBody(err)
	}
	for i, p := range in {
		switch {
		case p.Name == "":
			return nil, missingField("name at proxy " + strconv.Itoa(i+1))
		case p.Upstream == "":
			return nil, missingField("upstream at proxy " + strconv.Itoa(i+1))
		}
	}
	out := make([]*proxy, 0, len(in))
	for _, e := range in {
		if old, ok := s.proxies[e.Name]; ok {
			if old.listen == e.Listen && old.upstream == e.Upstream {
				out = append(out, old)
				continue
			}
			s.stop(old)
		}
		p := &proxy{name: e.Name, listen: e.Listen, upstream: e.Upstream}
		if e.Enabled == nil || *e.Enabled {
			if apiErr := s.start(p); apiErr != nil {
				return out, apiErr
			}
		}
		s.proxies[p.name] = p
		out = append(out, p)
	}
	return out, nil
}

// Populate creates or replaces proxies from a JSON array of
// {"name", "listen", "upstream", "enabled"}, as POST /populate and
// Toxiproxy's -config file do, and returns how many it made or kept. An
// error is an [*Error].
func (s *Server) Populate(r io.Reader) (int, error) {
	body, err := io.ReadAll(io.LimitReader(r, s.cfg.MaxBodyBytes+1))
	if err != nil {
		return 0, badBody(err)
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return 0, &Error{"bad request body: larger than " + strconv.FormatInt(s.cfg.MaxBodyBytes, 10) + " bytes", http.StatusRequestEntityTooLarge}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errClosed
	}
	got, apiErr := s.populate(body)
	if apiErr != nil {
		return len(got), apiErr
	}
	return len(got), nil
}

// Close closes every proxy, its port and its connections, and waits for
// their goroutines. Requests after Close answer 503. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for _, p := range s.proxies {
		if p.tp != nil {
			errs = append(errs, p.tp.Close())
			p.tp = nil
		}
		p.enabled = false
	}
	return errors.Join(errs...)
}
