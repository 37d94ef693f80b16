package telemetry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duohuo/duohuo/internal/connlimit"
)

// DefaultAdminAddr is where the admin server listens when
// [AdminOptions.Addr] is empty: loopback only.
const DefaultAdminAddr = "127.0.0.1:9900"

// HeaderAdmin is the request header that marks a change (any method but
// GET, HEAD and OPTIONS) sent by a program rather than by a web page, on an
// admin server without a token. Browsers cannot add it to a cross-site
// request without a CORS preflight, which the admin server never grants.
// Its value is not checked; "1" is customary.
const HeaderAdmin = "X-Duohuo-Admin"

// AdminMaxConnections is the admin listener's own budget of connections:
// health checks, scrapes and operators get an answer while the public
// listeners are saturated, and the admin API cannot take the file
// descriptors they need either (docs/security.md, "Listener limits").
const AdminMaxConnections = 256

// Timeouts of the admin server. There is no write timeout because
// /debug/pprof/profile and /debug/pprof/trace stream for as long as their
// ?seconds= parameter asks.
const (
	adminReadHeaderTimeout = 5 * time.Second
	adminReadTimeout       = 30 * time.Second
	adminIdleTimeout       = 2 * time.Minute
)

// Errors of the admin server that callers branch on.
var (
	// ErrInsecureBind: the address is not loopback and no token is set.
	ErrInsecureBind = errors.New("telemetry: admin address is not loopback and no token is configured")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("telemetry: admin server already started")
	// ErrNotStarted: Prepare was called before Start or after Shutdown.
	ErrNotStarted = errors.New("telemetry: admin server not serving")
	// ErrReadOnlyToken: a read-only token without a token, or equal to it.
	ErrReadOnlyToken = errors.New("telemetry: admin read-only token needs a token and must differ from it")
)

// AdminOptions configures [NewAdmin]. The zero value is valid: loopback
// address, no token, an empty registry, no logging, always ready.
type AdminOptions struct {
	// Addr is host:port to listen on; "" means DefaultAdminAddr. Port 0
	// picks a free port (see Admin.Addr). An address that is not loopback
	// (127.0.0.0/8, ::1, "localhost") requires Token.
	Addr string
	// Token, when set, is required as "Authorization: Bearer <Token>" on
	// every path except /healthz and /readyz.
	Token string
	// ReadOnlyToken, when set next to Token, is a second bearer token
	// that may read (GET, HEAD, OPTIONS) but not change: a change with it
	// is refused with 403. It needs Token and must differ from it.
	ReadOnlyToken string
	// OwnAuth, if set, reports the requests whose handler authenticates
	// them itself (the web console's login page and session cookie, see
	// internal/console): the token is not required of them. The Host
	// check without a token and the cross-site checks of changes still
	// apply. It is called on every request and must be quick.
	OwnAuth func(r *http.Request) bool
	// Hosts lists further names (without port) that a request without a
	// token may give in its Host header, besides "localhost", loopback
	// addresses and Addr's host; any other Host is refused with 403 as a
	// DNS rebinding attempt. Names are compared without case.
	Hosts []string
	// Registry is served on /metrics; nil serves an empty registry.
	Registry *prometheus.Registry
	// Logger receives serve errors; nil discards them.
	Logger *slog.Logger
	// Ready decides /readyz: nil error is 200, an error is 503 with its
	// text. nil Ready means always ready. It is called on every /readyz
	// request, concurrently, and should return quickly.
	Ready func() error
	// Degraded, if set, lists the parts that run degraded, one line each
	// (for example why the replicated store did not start). They do not
	// decide readiness, Ready does; /readyz lists them after its first
	// line, ready or not. Called like Ready.
	Degraded func() []string
}

// AdminAccess is the part of the admin server's options that can change
// while it serves (see [Admin.Prepare]): where it listens and who may use
// it. Its fields mean what the fields of the same name in [AdminOptions]
// mean.
type AdminAccess struct {
	Addr          string
	Token         string
	ReadOnlyToken string
	Hosts         []string
}

// access is the immutable snapshot of the checks a request goes through,
// replaced wholesale when the token or the host names change.
type access struct {
	addr   string              // the configured address, as given
	token  bool                // a token is required
	tokenH [sha256.Size]byte   // SHA-256 of the token, compared in constant time
	ro     bool                // a read-only token is accepted too
	roH    [sha256.Size]byte   // SHA-256 of the read-only token
	hosts  map[string]struct{} // lower-case names allowed in Host without a token
}

func newAccess(ac AdminAccess) (*access, error) {
	if ac.Addr == "" {
		ac.Addr = DefaultAdminAddr
	}
	host, _, err := net.SplitHostPort(ac.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", ac.Addr, err)
	}
	if ac.Token == "" && !isLoopbackHost(host) {
		return nil, fmt.Errorf("admin address %q: %w; set a token or listen on 127.0.0.1", ac.Addr, ErrInsecureBind)
	}
	if ac.ReadOnlyToken != "" && (ac.Token == "" || ac.ReadOnlyToken == ac.Token) {
		return nil, ErrReadOnlyToken
	}
	x := &access{addr: ac.Addr, token: ac.Token != "", hosts: map[string]struct{}{"localhost": {}}}
	if x.token {
		x.tokenH = sha256.Sum256([]byte(ac.Token))
	}
	if ac.ReadOnlyToken != "" {
		x.ro, x.roH = true, sha256.Sum256([]byte(ac.ReadOnlyToken))
	}
	if host != "" {
		x.hosts[strings.ToLower(host)] = struct{}{}
	}
	for _, h := range ac.Hosts {
		x.hosts[strings.ToLower(strings.TrimSuffix(h, "."))] = struct{}{}
	}
	return x, nil
}

// Admin is the admin HTTP server. Handle may be called at any time; Start
// once; Prepare and its Commit while it serves; Shutdown any number of
// times. All methods are safe for concurrent use.
type Admin struct {
	opts    AdminOptions
	mux     *http.ServeMux
	handler http.Handler
	access  atomic.Pointer[access] // read by every request

	mu      sync.Mutex // guards srv, ln, stopped
	srv     *http.Server
	ln      net.Listener   // the listener new connections arrive on
	stopped bool           // Shutdown has begun
	serveWG sync.WaitGroup // one Serve goroutine per listener, old ones included
}

// NewAdmin checks opts and builds the server without binding. A
// non-loopback Addr without a Token wraps [ErrInsecureBind]; an Addr that is
// not host:port is an error too.
func NewAdmin(opts AdminOptions) (*Admin, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAdminAddr
	}
	x, err := newAccess(AdminAccess{Addr: opts.Addr, Token: opts.Token, ReadOnlyToken: opts.ReadOnlyToken, Hosts: opts.Hosts})
	if err != nil {
		return nil, err
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Admin{opts: opts, mux: http.NewServeMux()}
	a.access.Store(x)
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError),
	}))
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	a.mux.HandleFunc("/debug/pprof/", pprof.Index)
	a.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	a.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	a.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	a.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.handler = a.guard(a.mux)
	return a, nil
}

// isLoopbackHost reports whether host names only loopback addresses. Host
// names other than "localhost" are not resolved and count as not loopback:
// what a name resolves to can change after the check.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Handle mounts h on pattern (http.ServeMux syntax, e.g. "GET /v1/routes").
// Like http.ServeMux.Handle it panics on an invalid or conflicting pattern,
// a programming error. Mount before Start so no request sees a 404.
func (a *Admin) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// Handler returns the complete admin handler, token and cross-site checks
// included, for tests and for embedding in another server. Apart from
// /healthz and /readyz, it answers 401 without the token when one is set,
// and 403 with the reason, without a token, to a request whose Host is not
// "localhost", a loopback address, Addr's host or one of Hosts; and, token
// or not, to a change (any method but GET, HEAD and OPTIONS) with a
// foreign Origin or a cross-site or same-site Sec-Fetch-Site; and, without
// a token, to a change with neither [HeaderAdmin] nor a JSON Content-Type.
// With the read-only token, a change is refused with 403. The requests that
// [AdminOptions.OwnAuth] claims go without the token to their handler.
func (a *Admin) Handler() http.Handler { return a.handler }

func (a *Admin) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var degraded []string
	if a.opts.Degraded != nil {
		degraded = a.opts.Degraded()
	}
	defer func() {
		for _, d := range degraded {
			fmt.Fprintf(w, "degraded: %s\n", d)
		}
	}()
	if a.opts.Ready != nil {
		if err := a.opts.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	io.WriteString(w, "ready\n")
}

// guard puts every request but the probes, which orchestrators call
// without credentials, through the checks of docs/security.md:
//
//   - with a token, the bearer token;
//   - without one, a Host that names this server, so that a page whose name
//     was rebound to 127.0.0.1 (DNS rebinding) can read nothing;
//   - for a change (any method but GET, HEAD, OPTIONS), no Origin but the
//     server's own, no Sec-Fetch-Site but same-origin or none, and, without
//     a token, the X-Duohuo-Admin header or a JSON body: a web page can send
//     neither across sites without a CORS preflight, which is never granted.
//     This is what stops a page open in a browser on the same machine from
//     changing the gateway with a form or a text/plain fetch.
func (a *Admin) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		x := a.access.Load()
		readOnly := false
		if x.token && (a.opts.OwnAuth == nil || !a.opts.OwnAuth(r)) {
			switch x.rights(r.Header.Get("Authorization")) {
			case rightsNone:
				w.Header().Set("WWW-Authenticate", `Bearer realm="duohuo admin"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			case rightsRead:
				readOnly = true
			}
		} else if !x.token && !x.knownHost(r.Host) {
			refuse(w, fmt.Sprintf("admin: Host %q is not a name of this admin server (a DNS rebinding attempt?); use 127.0.0.1 or localhost, or list the name in admin.hosts", r.Host))
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if readOnly {
			refuse(w, fmt.Sprintf("admin: %s refused: the read-only token may read but not change", r.Method))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
			refuse(w, fmt.Sprintf("admin: %s from origin %q refused: the admin API takes changes only from programs, not from web pages of other origins", r.Method, o))
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
			refuse(w, fmt.Sprintf("admin: %s from a %s page refused (Sec-Fetch-Site): the admin API takes changes only from programs", r.Method, s))
			return
		}
		if !x.token && r.Header.Get(HeaderAdmin) == "" && !jsonBody(r.Header.Get("Content-Type")) {
			refuse(w, fmt.Sprintf("admin: %s needs the header %s: 1 or a JSON body (Content-Type: application/json), which a web page cannot send to another site", r.Method, HeaderAdmin))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func refuse(w http.ResponseWriter, msg string) { http.Error(w, msg, http.StatusForbidden) }

// What a bearer token allows.
const (
	rightsNone = iota
	rightsRead
	rightsWrite
)

// rights checks an Authorization header value against the token and the
// read-only token. The auth scheme is case-insensitive (RFC 9110, section
// 11.1). Both sides are hashed first so that the constant-time compare
// does not leak the token's length.
func (x *access) rights(header string) int {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return rightsNone
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(h[:], x.tokenH[:]) == 1 {
		return rightsWrite
	}
	if x.ro && subtle.ConstantTimeCompare(h[:], x.roH[:]) == 1 {
		return rightsRead
	}
	return rightsNone
}

// knownHost reports whether a Host header names this server: a loopback
// address, or one of the allowed names. An address literal cannot be
// rebound, but without a token the server listens only on loopback, so a
// literal that is not loopback came through something else and is refused.
func (x *access) knownHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.IsLoopback()
	}
	_, ok := x.hosts[strings.ToLower(host)]
	return ok
}

// sameOrigin reports whether an Origin header (RFC 6454) is the admin
// server's own origin, the scheme and the authority the request was sent
// to. "null" (a sandboxed or file: page) is never the same.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.User != nil {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// jsonBody reports whether a Content-Type is JSON, a type that a web page
// cannot send to another site without a CORS preflight (the CORS
// "simple" types are text/plain, multipart/form-data and
// application/x-www-form-urlencoded).
func jsonBody(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// Start binds the address and serves in a goroutine the Admin owns until
// Shutdown. Bind errors are returned here, synchronously. ctx bounds only
// the bind. If no token is set, a bound address that is not loopback (a
// name that resolved elsewhere) is closed again and wraps ErrInsecureBind.
func (a *Admin) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		return ErrStarted
	}
	ln, err := listen(ctx, a.access.Load())
	if err != nil {
		return err
	}
	a.srv = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		IdleTimeout:       adminIdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.opts.Logger.Handler(), slog.LevelWarn),
	}
	a.serve(ln)
	return nil
}

// listen binds x.addr and, without a token, makes sure the bound address
// is loopback.
func listen(ctx context.Context, x *access) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", x.addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	if !x.token {
		if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
			ln.Close()
			return nil, fmt.Errorf("admin address %q bound to %s: %w", x.addr, ln.Addr(), ErrInsecureBind)
		}
	}
	return ln, nil
}

// serve makes ln the listener of new connections and serves it in a
// goroutine. a.mu is held.
func (a *Admin) serve(ln net.Listener) {
	ln = &onceCloseListener{Listener: connlimit.New(ln, connlimit.Config{Max: AdminMaxConnections})}
	a.ln = ln
	srv := a.srv
	a.serveWG.Add(1)
	go func() {
		defer a.serveWG.Done()
		// net.ErrClosed: a listener replaced by Commit and closed there.
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			a.opts.Logger.Error("admin server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// onceCloseListener closes its listener once; later calls return nil.
// Commit closes a replaced listener while http.Server still tracks it until
// its Serve returns, so a Shutdown in between closes it a second time, which
// must not be an error (net/http wraps its own listeners the same way).
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// AdminChange is a change of a serving admin server's address, token or
// host names, checked and bound by [Admin.Prepare] but not in effect until
// Commit. Exactly one of Commit and Abort must be called.
type AdminChange struct {
	a    *Admin
	next *access
	ln   net.Listener // the new address's listener; nil if the address stays
	done bool
}

// Prepare checks ac and, when ac.Addr differs from the address being
// served, binds it, so that a new address that cannot be bound (taken, not
// loopback without a token) is an error here and nothing changes. It
// blocks only for the bind, which ctx bounds.
func (a *Admin) Prepare(ctx context.Context, ac AdminAccess) (*AdminChange, error) {
	next, err := newAccess(ac)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv == nil || a.stopped {
		return nil, ErrNotStarted
	}
	c := &AdminChange{a: a, next: next}
	if next.addr != a.access.Load().addr {
		if c.ln, err = listen(ctx, next); err != nil {
			return nil, err
		}
	} else if !next.token {
		// The token goes away on the address being served: that address
		// must be loopback (a name could have resolved elsewhere).
		if ap, err := netip.ParseAddrPort(a.ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
			return nil, fmt.Errorf("admin address %q bound to %s: %w", next.addr, a.ln.Addr(), ErrInsecureBind)
		}
	}
	return c, nil
}

// Moves reports whether the change binds a new address.
func (c *AdminChange) Moves() bool { return c.ln != nil }

// Addr returns the address the change listens on once committed: the new
// listener's (with its real port), or the current one if it does not move.
func (c *AdminChange) Addr() string {
	if c.ln != nil {
		return c.ln.Addr().String()
	}
	return c.a.Addr()
}

// Commit puts the change in effect: the new token and host names apply to
// the next request, on every connection; a new listener serves before the
// old one is closed, so that the admin server is never unreachable.
// Connections already open on the old address are served until they close.
// If Shutdown has begun, Commit closes the new listener instead. Commit
// after Commit or Abort does nothing.
func (c *AdminChange) Commit() {
	a := c.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	if a.stopped {
		if c.ln != nil {
			c.ln.Close()
		}
		return
	}
	a.access.Store(c.next)
	if c.ln != nil {
		old := a.ln
		a.serve(c.ln)
		old.Close()
	}
}

// Abort drops the change and closes the listener Prepare bound, if any.
// Abort after Commit or Abort does nothing.
func (c *AdminChange) Abort() {
	c.a.mu.Lock()
	defer c.a.mu.Unlock()
	if c.done {
		return
	}
	c.done = true
	if c.ln != nil {
		c.ln.Close()
	}
}

// Addr returns the bound address (with the real port when Addr asked for
// port 0), or "" before Start.
func (a *Admin) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Shutdown stops accepting connections, waits for in-flight requests to
// finish and for the serve goroutines to return. If ctx ends first, open
// connections are closed and ctx's error is returned after the goroutines
// have returned. Shutdown before Start, or a second time, returns nil.
func (a *Admin) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	srv := a.srv
	a.stopped = srv != nil
	a.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	a.serveWG.Wait()
	return err
}
