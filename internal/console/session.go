package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/duohuo/duohuo/internal/httpjson"
)

// CookieName is the session cookie: HttpOnly, SameSite=Strict, Secure
// when the console is reached over TLS, scoped to /ui/.
const CookieName = "duohuo_console"

// maxSessions bounds the sessions kept; beyond it the one that expires
// first goes.
const maxSessions = 1024

// idBytes is the entropy of a session ID and of a CSRF token.
const idBytes = 32

// idLen is the length of a session ID as written (unpadded base64url).
var idLen = base64.RawURLEncoding.EncodedLen(idBytes)

// session is one login. Its fields never change after creation.
type session struct {
	id      string
	rights  rights
	csrf    string
	expires time.Time
}

func (s *session) checkCSRF(v string) bool {
	return len(v) == len(s.csrf) && subtle.ConstantTimeCompare([]byte(v), []byte(s.csrf)) == 1
}

// sessions maps session IDs to their rights, server-side.
type sessions struct {
	ttl time.Duration
	max int
	mu  sync.Mutex          // guards m
	m   map[string]*session // by ID
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{ttl: ttl, max: max, m: map[string]*session{}}
}

func randomID() string {
	b := make([]byte, idBytes)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create opens a session with the given rights.
func (ss *sessions) create(r rights, now time.Time) *session {
	s := &session{id: randomID(), rights: r, csrf: randomID(), expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= ss.max {
		var first *session
		for id, o := range ss.m {
			if !now.Before(o.expires) {
				delete(ss.m, id)
				continue
			}
			if first == nil || o.expires.Before(first.expires) {
				first = o
			}
		}
		if len(ss.m) >= ss.max && first != nil {
			delete(ss.m, first.id)
		}
	}
	ss.m[s.id] = s
	return s
}

// get returns the live session with the ID, or nil.
func (ss *sessions) get(id string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s != nil && !now.Before(s.expires) {
		delete(ss.m, id)
		return nil
	}
	return s
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

func (ss *sessions) clear() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	clear(ss.m)
}

// parseSessionID checks a cookie value: the console's own IDs are idLen
// characters of unpadded base64url; anything else is not looked up.
func parseSessionID(v string) (string, bool) {
	if len(v) != idLen {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return v, true
}

// sessionOf returns the live session of r's cookie, or nil.
func (c *Console) sessionOf(r *http.Request) *session {
	ck, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	id, ok := parseSessionID(ck.Value)
	if !ok {
		return nil
	}
	return c.sessions.get(id, time.Now())
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.id, Path: "/ui/",
		MaxAge: int(c.opts.SessionTTL / time.Second), Expires: s.expires,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// sessionJSON is the answer of /ui/api/session and /ui/api/login.
type sessionJSON struct {
	Authenticated bool   `json:"authenticated"`
	TokenRequired bool   `json:"token_required"`
	Rights        string `json:"rights,omitempty"` // read, write
	CSRF          string `json:"csrf,omitempty"`
	Expires       string `json:"expires,omitempty"`
	Site          string `json:"site,omitempty"`
}

func (c *Console) sessionAnswer(s *session, r rights) sessionJSON {
	j := sessionJSON{Authenticated: true, TokenRequired: c.tokens.Load().required(), Rights: r.String(), Site: c.opts.Site}
	if s != nil {
		j.CSRF, j.Expires = s.csrf, s.expires.UTC().Format(time.RFC3339)
	}
	return j
}

// serveSession tells the page whether it is logged in. Without a token
// configured it opens a session at once: the console needs no login
// then, but changes still need the session's CSRF token.
func (c *Console) serveSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !isRead(r.Method) {
		methodNotAllowed(w, "GET")
		return
	}
	tk := c.tokens.Load()
	if h := r.Header.Get("Authorization"); h != "" {
		if a, ok := c.authorize(w, r); ok {
			httpjson.Write(w, http.StatusOK, c.sessionAnswer(nil, a.rights))
		}
		return
	}
	s := c.sessionOf(r)
	if s == nil && !tk.required() {
		s = c.sessions.create(writeRights, time.Now())
		c.setCookie(w, r, s)
	}
	if s == nil {
		httpjson.Write(w, http.StatusOK, sessionJSON{TokenRequired: true, Site: c.opts.Site})
		return
	}
	httpjson.Write(w, http.StatusOK, c.sessionAnswer(s, s.rights))
}

// maxLoginBody bounds a login request body.
const maxLoginBody = 4 << 10

// errLoginBody: a login body that is not {"token": "…"}.
var errLoginBody = errors.New(`console: login body must be JSON {"token": "…"}`)

// parseLogin reads a login request body.
func parseLogin(body io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxLoginBody+1))
	if err != nil {
		return "", errLoginBody
	}
	if len(b) > maxLoginBody {
		return "", errors.New("console: login body over " + strconv.Itoa(maxLoginBody) + " bytes")
	}
	var in struct {
		Token *string `json:"token"`
	}
	if err := json.Unmarshal(b, &in); err != nil || in.Token == nil {
		return "", errLoginBody
	}
	return *in.Token, nil
}

// serveLogin checks a token and answers with a session cookie.
func (c *Console) serveLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	tok, err := parseLogin(r.Body)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, err)
		return
	}
	tk := c.tokens.Load()
	a := writeRights
	if tk.required() {
		now := time.Now()
		if wait := c.logins.wait(now); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			httpjson.Write(w, http.StatusTooManyRequests, httpjson.ErrorBody{Error: "console: too many failed logins; try again later"})
			return
		}
		if a = tk.check(tok); a == noRights {
			c.logins.fail(now)
			c.opts.Logger.Warn("console login refused: wrong token", "remote", r.RemoteAddr)
			httpjson.Write(w, http.StatusUnauthorized, httpjson.ErrorBody{Error: "console: that is not the admin token"})
			return
		}
	}
	if old := c.sessionOf(r); old != nil {
		c.sessions.delete(old.id) // a new ID at each login (no session fixation)
	}
	s := c.sessions.create(a, time.Now())
	c.setCookie(w, r, s)
	httpjson.Write(w, http.StatusOK, c.sessionAnswer(s, a))
}

// serveLogout ends the session (a change: it needs the CSRF token).
func (c *Console) serveLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	s := c.sessionOf(r)
	if s == nil {
		httpjson.Write(w, http.StatusOK, sessionJSON{TokenRequired: c.tokens.Load().required()})
		return
	}
	if !s.checkCSRF(r.Header.Get(HeaderCSRF)) {
		httpjson.Write(w, http.StatusForbidden, httpjson.ErrorBody{Error: "console: the CSRF token is missing or wrong (header " + HeaderCSRF + ")"})
		return
	}
	c.sessions.delete(s.id)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/ui/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	httpjson.Write(w, http.StatusOK, sessionJSON{TokenRequired: c.tokens.Load().required()})
}

// loginLimiter slows down guessing: after maxLoginFailures failed logins
// within loginWindow, logins wait for the window to end.
type loginLimiter struct {
	mu       sync.Mutex // guards start, failures
	start    time.Time
	failures int
}

const (
	maxLoginFailures = 10
	loginWindow      = time.Minute
)

func (l *loginLimiter) wait(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= loginWindow {
		l.start, l.failures = now, 0
	}
	if l.failures < maxLoginFailures {
		return 0
	}
	return l.start.Add(loginWindow).Sub(now)
}

func (l *loginLimiter) fail(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= loginWindow {
		l.start, l.failures = now, 0
	}
	l.failures++
}
