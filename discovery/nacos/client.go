package nacos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what the source reads of one answer, so that a broken or
// hostile server cannot exhaust memory. A 10,000-instance list with
// metadata is about 5 MiB.
const maxBody = 16 << 20

// session is one Watch's state: which server answered last and the access
// token. It is used by one goroutine.
type session struct {
	src       *Source
	preferred int // index of the server that answered last

	token     string    // the access token; "" before a login or when the server grants none
	loggedIn  bool      // a login succeeded and its token is still to be used
	refreshAt time.Time // when to log in again, before the token expires
}

// poll asks the servers for the instance list, starting with the one that
// answered last and moving on when one fails. With confirmEmpty, an empty
// list is asked of the other servers too, and the first non-empty one wins:
// a restarting member lists nothing while the others still know the
// instances.
func (ss *session) poll(ctx context.Context, confirmEmpty bool) (list, error) {
	s := ss.src
	n := len(s.servers)
	var (
		errs     []error
		empty    *serviceInfo
		emptyIdx int
	)
	for i := range n {
		idx := (ss.preferred + i) % n
		info, err := ss.list(ctx, idx)
		if err != nil {
			errs = append(errs, fmt.Errorf("server %s: %w", s.servers[idx].Host, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if len(info.Hosts) == 0 && confirmEmpty {
			if empty == nil {
				empty, emptyIdx = info, idx
			}
			continue
		}
		ss.preferred = idx
		return s.convert(info), nil
	}
	if empty != nil {
		ss.preferred = emptyIdx
		return s.convert(empty), nil
	}
	return list{}, fmt.Errorf("list %s: %w", s.name, errors.Join(errs...))
}

// list reads the instance list from server idx, logging in first when
// credentials are configured and the token is missing or due for renewal,
// and once more when the server rejects the token.
func (ss *session) list(ctx context.Context, idx int) (*serviceInfo, error) {
	s := ss.src
	for attempt := 0; ; attempt++ {
		if s.cfg.Username != "" && (!ss.loggedIn || !s.cfg.Now().Before(ss.refreshAt)) {
			if err := ss.login(ctx, idx); err != nil {
				return nil, err
			}
		}
		body, status, err := ss.listOnce(ctx, idx)
		if err != nil {
			return nil, err
		}
		switch {
		case status == http.StatusOK:
			return decodeList(body)
		case (status == http.StatusUnauthorized || status == http.StatusForbidden) && s.cfg.Username != "" && attempt == 0:
			// The token expired early or the server no longer knows it
			// (a restart with a new secret key): log in again, once.
			ss.loggedIn = false
			continue
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, fmt.Errorf("%w: list answered %d: %s", ErrAuth, status, snippet(body))
		case status == http.StatusGone:
			return nil, fmt.Errorf("%w: %s", ErrAPIDisabled, snippet(body))
		default:
			return nil, fmt.Errorf("%w: list answered %d: %s", ErrBadAnswer, status, snippet(body))
		}
	}
}

func (ss *session) listOnce(ctx context.Context, idx int) ([]byte, int, error) {
	s := ss.src
	q := url.Values{}
	q.Set("namespaceId", s.cfg.Namespace)
	q.Set("groupName", s.cfg.Group)
	// The grouped form "GROUP@@service" is what the server keys services
	// by; servers that add the group themselves accept it as is.
	q.Set("serviceName", s.cfg.Group+"@@"+s.cfg.Name)
	if len(s.cfg.Clusters) > 0 {
		q.Set("clusters", strings.Join(s.cfg.Clusters, ","))
	}
	// Never true: with healthyOnly=true the server does not apply the
	// protect threshold, and a service whose instances are all unhealthy
	// comes back empty.
	q.Set("healthyOnly", "false")
	if ss.token != "" {
		q.Set("accessToken", ss.token)
	}
	u := *s.servers[idx]
	u.Path += "/v1/ns/instance/list"
	u.RawQuery = q.Encode()
	return ss.do(ctx, http.MethodGet, u.String(), nil)
}

// login gets an access token from server idx. Nacos tokens are signed with
// the cluster's shared key, so one token serves every member.
func (ss *session) login(ctx context.Context, idx int) error {
	s := ss.src
	form := url.Values{"username": {s.cfg.Username}, "password": {s.cfg.Password}}
	u := *s.servers[idx]
	u.Path += "/v1/auth/login"
	body, status, err := ss.do(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w: login as %q answered %d: %s", ErrAuth, s.cfg.Username, status, snippet(body))
	case status == http.StatusGone:
		return fmt.Errorf("login: %w: %s", ErrAPIDisabled, snippet(body))
	case status != http.StatusOK:
		return fmt.Errorf("%w: login answered %d: %s", ErrBadAnswer, status, snippet(body))
	}
	tok, ttl, err := decodeLogin(body)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	now := s.cfg.Now()
	ss.token, ss.loggedIn = tok, true
	switch {
	case tok == "":
		// A server without authentication grants no token: do not log
		// in again until a list is rejected.
		ss.refreshAt = now.Add(100 * 365 * 24 * time.Hour)
	default:
		// Renew at nine tenths of the lifetime, as the Nacos Java client
		// does (tokenRefreshWindow = tokenTtl / 10).
		ss.refreshAt = now.Add(ttl - ttl/10)
	}
	return nil
}

// do sends one request bounded by Timeout and reads at most maxBody of the
// answer.
func (ss *session) do(ctx context.Context, method, target string, body io.Reader) ([]byte, int, error) {
	s := ss.src
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, redact(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, 0, redact(err)
	}
	if len(b) > maxBody {
		return nil, 0, fmt.Errorf("%w: answer larger than %d bytes", ErrBadAnswer, maxBody)
	}
	return b, resp.StatusCode, nil
}

// redact removes the query string (which holds the access token) from the
// URL that net/http errors quote.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// snippet is the start of an error body, for error messages.
func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// decodeLogin reads a login answer: {"accessToken": "…", "tokenTtl": 18000}.
func decodeLogin(b []byte) (token string, ttl time.Duration, err error) {
	var r struct {
		AccessToken string      `json:"accessToken"`
		TokenTTL    json.Number `json:"tokenTtl"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return "", 0, fmt.Errorf("%w: login answer: %w", ErrBadAnswer, err)
	}
	if r.AccessToken == "" {
		return "", 0, nil
	}
	secs, err := r.TokenTTL.Int64()
	if err != nil || secs <= 0 {
		// No usable lifetime: renew on every poll rather than guess.
		return r.AccessToken, 0, nil
	}
	return r.AccessToken, time.Duration(min(secs, 10*365*24*3600)) * time.Second, nil
}
