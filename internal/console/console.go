package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/httpjson"
	"github.com/duohuo/duohuo/internal/telemetry"
)

//go:embed assets
var assets embed.FS

// Defaults of [Options].
const (
	DefaultSessionTTL = 8 * time.Hour
	DefaultMaxClients = 32
	DefaultInterval   = time.Second
)

// HeaderCSRF is the request header that carries a session's CSRF token on
// every change made with the session cookie.
const HeaderCSRF = "X-Duohuo-Csrf"

// ContentSecurityPolicy is sent with every answer of the console: its pages
// load only their own scripts, styles and connections, and cannot be framed.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Options configures [New]. Only Admin is required.
type Options struct {
	// Admin is the admin server's whole handler, its checks included
	// (telemetry.Admin.Handler). The console forwards /ui/api/v1/… to it
	// as /v1/…, with the bearer token that the session's rights stand
	// for, so that the admin API decides as for any other client.
	Admin http.Handler
	// Token and ReadOnlyToken are the admin server's tokens
	// (admin.token, admin.read_only_token). The login page takes either;
	// with no Token, the console needs no login (the admin server then
	// listens on loopback only) but still wants the CSRF token on changes.
	Token, ReadOnlyToken string
	// Services returns the gateway's services (gateway.Gateway.Services)
	// for the topology page; nil shows none.
	Services func() []gateway.ServiceStatus
	// Gatherer holds the gateway's metrics, which the traffic page is
	// sampled from; nil shows no traffic.
	Gatherer prometheus.Gatherer
	// Site says where the gateway runs (cloud/region/zone), for the page
	// header; "" shows nothing.
	Site string
	// SessionTTL is how long a login lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// MaxClients caps the live event streams open at once (one per open
	// page); 0 means DefaultMaxClients. Beyond it a stream is refused with
	// 503.
	MaxClients int
	// Interval is how often the gateway is sampled and a snapshot pushed;
	// 0 means DefaultInterval.
	Interval time.Duration
	// Logger receives the console's warnings; nil discards them.
	Logger *slog.Logger
}

// Rights of a request: what its token or session allows.
type rights int

const (
	noRights rights = iota
	readRights
	writeRights
)

func (r rights) String() string {
	switch r {
	case readRights:
		return "read"
	case writeRights:
		return "write"
	}
	return "none"
}

// tokens is the immutable snapshot of the admin server's tokens.
type tokens struct {
	write, read   string
	writeH, readH [sha256.Size]byte
}

func newTokens(write, read string) *tokens {
	return &tokens{write: write, read: read, writeH: sha256.Sum256([]byte(write)), readH: sha256.Sum256([]byte(read))}
}

// required reports whether a login is needed.
func (t *tokens) required() bool { return t.write != "" }

// check returns the rights a presented token gives. Both sides are hashed
// first so that the constant-time compare does not leak the length.
func (t *tokens) check(tok string) rights {
	if tok == "" || t.write == "" {
		return noRights
	}
	h := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(h[:], t.writeH[:]) == 1 {
		return writeRights
	}
	if t.read != "" && subtle.ConstantTimeCompare(h[:], t.readH[:]) == 1 {
		return readRights
	}
	return noRights
}

// Console is the web console: its pages, its login and sessions, the live
// event stream and the forwarding of its API calls to the admin API. Mount
// it on the admin server for [OwnsAuth]'s paths. It owns one goroutine, the
// sampler, until Close. All methods are safe for concurrent use.
type Console struct {
	opts     Options
	static   http.Handler
	tokens   atomic.Pointer[tokens]
	sessions *sessions
	logins   loginLimiter
	hub      hub
	sampler  *sampler
	clients  atomic.Int64 // open event streams

	done      chan struct{} // closed by Close: streams and the sampler end
	closeOnce sync.Once
	wg        sync.WaitGroup // the sampler
}

// ErrNoAdmin is returned by [New] without [Options.Admin].
var ErrNoAdmin = errors.New("console: Options.Admin is required")

// New returns a Console and starts its sampler. Call Close when done,
// before shutting the admin server down: Close ends the event streams,
// which the admin server's shutdown would otherwise wait for.
func New(opts Options) (*Console, error) {
	if opts.Admin == nil {
		return nil, ErrNoAdmin
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = DefaultMaxClients
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	c := &Console{
		opts:     opts,
		static:   http.StripPrefix("/ui/", http.FileServerFS(sub)),
		sessions: newSessions(opts.SessionTTL, maxSessions),
		done:     make(chan struct{}),
		sampler:  newSampler(opts.Gatherer),
	}
	c.tokens.Store(newTokens(opts.Token, opts.ReadOnlyToken))
	c.hub.publish(c.snapshot(time.Now()))
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// SetTokens puts new admin tokens in effect (a configuration reload). When
// they change, every session ends: it was opened with the old ones.
func (c *Console) SetTokens(token, readOnly string) {
	old := c.tokens.Load()
	if old.write == token && old.read == readOnly {
		return
	}
	c.tokens.Store(newTokens(token, readOnly))
	c.sessions.clear()
}

// Close ends the event streams and stops the sampler, and waits for it.
// Pages and API calls still work after Close, without live updates.
func (c *Console) Close() {
	c.closeOnce.Do(func() { close(c.done) })
	c.wg.Wait()
}

// run samples the gateway every Interval and publishes a snapshot.
func (c *Console) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			c.sampler.sample(now)
			c.hub.publish(c.snapshot(now))
		}
	}
}

// OwnsAuth reports whether the console answers r's path, and so
// authenticates it itself: "/" (a redirect to the console), "/ui" and
// everything under "/ui/". It is the telemetry.AdminOptions.OwnAuth of an
// admin server the console is mounted on.
func OwnsAuth(r *http.Request) bool {
	p := r.URL.Path
	return p == "/" || p == "/ui" || strings.HasPrefix(p, "/ui/")
}

// Mount mounts c on the admin server a for the paths of [OwnsAuth].
func (c *Console) Mount(a *telemetry.Admin) {
	a.Handle("/{$}", c)
	a.Handle("/ui", c)
	a.Handle("/ui/", c)
}

// securityHeaders are set on every answer of the console.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP answers the console's paths:
//
//	GET  /                 redirect to /ui/
//	GET  /ui/…             the pages, scripts and styles (embedded)
//	GET  /ui/api/session   who is logged in, the CSRF token
//	POST /ui/api/login     {"token": "…"}: a session cookie
//	POST /ui/api/logout    end the session
//	GET  /ui/api/events    server-sent events: a snapshot every Interval
//	ANY  /ui/api/v1/…      forwarded to the admin API's /v1/…
//
// A change made with the session cookie needs the header [HeaderCSRF]; a
// request with "Authorization: Bearer <token>" needs neither cookie nor
// CSRF token.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	p := r.URL.Path
	switch {
	case p == "/" || p == "/ui":
		if !isRead(r.Method) {
			methodNotAllowed(w, "GET")
			return
		}
		http.Redirect(w, r, "/ui/", http.StatusFound)
	case p == "/ui/api/session":
		c.serveSession(w, r)
	case p == "/ui/api/login":
		c.serveLogin(w, r)
	case p == "/ui/api/logout":
		c.serveLogout(w, r)
	case p == "/ui/api/events":
		if a, ok := c.authorize(w, r); ok {
			c.serveEvents(w, r, a)
		}
	case strings.HasPrefix(p, "/ui/api/v1/"):
		if a, ok := c.authorize(w, r); ok {
			c.forward(w, r, a)
		}
	case strings.HasPrefix(p, "/ui/api/"):
		httpjson.Write(w, http.StatusNotFound, httpjson.ErrorBody{Error: "console: no API " + p})
	default:
		if !isRead(r.Method) {
			methodNotAllowed(w, "GET")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
	}
}

func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	httpjson.Write(w, http.StatusMethodNotAllowed, httpjson.ErrorBody{Error: "console: method not allowed; use " + allow})
}

// auth is what authorize found out about a request.
type auth struct {
	rights  rights
	session *session // nil: bearer token, or no token configured
}

// authorize decides a request to the console's API: a bearer token, or a
// session cookie (with the CSRF token on a change), or, with no token
// configured, nothing for a read and a session with its CSRF token for a
// change. It answers the refusals itself.
func (c *Console) authorize(w http.ResponseWriter, r *http.Request) (auth, bool) {
	w.Header().Set("Cache-Control", "no-store")
	tk := c.tokens.Load()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if a := tk.check(strings.TrimSpace(tok)); strings.EqualFold(scheme, "Bearer") && a != noRights {
			return auth{rights: a}, true
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="duohuo admin"`)
		httpjson.Write(w, http.StatusUnauthorized, httpjson.ErrorBody{Error: "console: the bearer token is not the admin token"})
		return auth{}, false
	}
	s := c.sessionOf(r)
	switch {
	case s == nil && tk.required():
		httpjson.Write(w, http.StatusUnauthorized, httpjson.ErrorBody{Error: "console: log in first (session missing or expired)"})
		return auth{}, false
	case s == nil && isRead(r.Method):
		return auth{rights: writeRights}, true // loopback admin without a token: as the admin API
	case s == nil:
		httpjson.Write(w, http.StatusForbidden, httpjson.ErrorBody{Error: "console: a change needs the console session and its CSRF token; reload the page"})
		return auth{}, false
	}
	if !isRead(r.Method) && !s.checkCSRF(r.Header.Get(HeaderCSRF)) {
		httpjson.Write(w, http.StatusForbidden, httpjson.ErrorBody{Error: "console: the CSRF token is missing or wrong (header " + HeaderCSRF + "); reload the page"})
		return auth{}, false
	}
	return auth{rights: s.rights, session: s}, true
}

// forward sends an API call to the admin API as the session's token.
func (c *Console) forward(w http.ResponseWriter, r *http.Request, a auth) {
	if !isRead(r.Method) && a.rights != writeRights {
		httpjson.Write(w, http.StatusForbidden, httpjson.ErrorBody{Error: "console: logged in with the read-only token, which may read but not change"})
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/ui/api")
	r2.URL.RawPath = ""
	r2.RequestURI = r2.URL.RequestURI()
	h := r2.Header
	h.Del("Cookie")
	h.Del(HeaderCSRF)
	h.Del("Authorization")
	tk := c.tokens.Load()
	switch {
	case a.rights == writeRights && tk.write != "":
		h.Set("Authorization", "Bearer "+tk.write)
	case a.rights == readRights:
		h.Set("Authorization", "Bearer "+tk.read)
	}
	h.Set(telemetry.HeaderAdmin, "1")
	h.Set("X-Duohuo-Who", "console@"+r.RemoteAddr)
	c.opts.Admin.ServeHTTP(w, r2)
}

// SiteName writes a gateway's site as the page header shows it:
// "cloud/region/zone", without the parts that are empty.
func SiteName(cloud, region, zone string) string {
	var parts []string
	for _, p := range []string{cloud, region, zone} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}
