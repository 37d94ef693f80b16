package telemetry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAdminAddr is where the admin server listens when
// [AdminOptions.Addr] is empty: loopback only.
const DefaultAdminAddr = "127.0.0.1:9900"

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

// Admin is the admin HTTP server. Handle may be called at any time; Start
// once; Shutdown any number of times. All methods are safe for concurrent
// use.
type Admin struct {
	opts    AdminOptions
	mux     *http.ServeMux
	handler http.Handler
	tokenH  [sha256.Size]byte // SHA-256 of Token, compared in constant time

	mu   sync.Mutex // guards srv, ln, done
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when the serve goroutine has returned
}

// NewAdmin checks opts and builds the server without binding. A
// non-loopback Addr without a Token wraps [ErrInsecureBind]; an Addr that is
// not host:port is an error too.
func NewAdmin(opts AdminOptions) (*Admin, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAdminAddr
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", opts.Addr, err)
	}
	if opts.Token == "" && !isLoopbackHost(host) {
		return nil, fmt.Errorf("admin address %q: %w; set a token or listen on 127.0.0.1", opts.Addr, ErrInsecureBind)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Admin{opts: opts, mux: http.NewServeMux()}
	if opts.Token != "" {
		a.tokenH = sha256.Sum256([]byte(opts.Token))
	}
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
	a.handler = a.mux
	if opts.Token != "" {
		a.handler = a.authorize(a.mux)
	}
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

// Handler returns the complete admin handler, token check included, for
// tests and for embedding in another server.
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

// authorize requires the bearer token on every path but the probes, which
// orchestrators call without credentials.
func (a *Admin) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || a.validToken(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="duohuo admin"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
}

// validToken checks an Authorization header value. The auth scheme is
// case-insensitive (RFC 9110, section 11.1). Both sides are hashed first so
// that the constant-time compare does not leak the token's length.
func (a *Admin) validToken(header string) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(h[:], a.tokenH[:]) == 1
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
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.opts.Addr)
	if err != nil {
		return fmt.Errorf("admin listen: %w", err)
	}
	if a.opts.Token == "" {
		if ap, err := netip.ParseAddrPort(ln.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
			ln.Close()
			return fmt.Errorf("admin address %q bound to %s: %w", a.opts.Addr, ln.Addr(), ErrInsecureBind)
		}
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		IdleTimeout:       adminIdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.opts.Logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	a.srv, a.ln, a.done = srv, ln, done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.opts.Logger.Error("admin server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return nil
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
// finish and for the serve goroutine to return. If ctx ends first, open
// connections are closed and ctx's error is returned after the goroutine
// has returned. Shutdown before Start, or a second time, returns nil.
func (a *Admin) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	srv, done := a.srv, a.done
	a.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-done
	return err
}
