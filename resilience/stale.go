package resilience

import (
	"container/list"
	"net/http"
	"strings"
	"sync"
	"time"
)

// StaleConfig configures a [StaleCache]. The zero value gives the defaults
// written on each field.
type StaleConfig struct {
	// TTL is how long after it was stored an entry may still be served as
	// a fallback. 0 means 5m: long enough to ride out a failover, short
	// enough that users do not see yesterday's data.
	TTL time.Duration
	// MaxBytes bounds the bodies held in all. 0 means 64 MiB.
	MaxBytes int64
	// MaxEntryBytes is the largest body stored; larger responses are not
	// cached. 0 means 1 MiB.
	MaxEntryBytes int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Response is a stored response.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	StoredAt time.Time
}

// StaleCache keeps the last good response of cacheable GETs so that a route
// whose every try failed can answer with it (serve-stale, as RFC 5861's
// stale-if-error allows). It is bounded in bytes and evicts the least
// recently stored entry first. It is safe for concurrent use.
type StaleCache struct {
	ttl      time.Duration
	maxBytes int64
	maxEntry int64
	now      func() time.Time

	mu    sync.Mutex // guards the fields below
	ll    *list.List // of *staleEntry, most recently stored at the front
	byKey map[string]*list.Element
	bytes int64
}

type staleEntry struct {
	key  string
	resp Response
}

// NewStaleCache returns an empty cache; see [StaleConfig] for the defaults.
func NewStaleCache(c StaleConfig) *StaleCache {
	if c.TTL <= 0 {
		c.TTL = 5 * time.Minute
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 64 << 20
	}
	if c.MaxEntryBytes <= 0 {
		c.MaxEntryBytes = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &StaleCache{ttl: c.TTL, maxBytes: c.MaxBytes, maxEntry: c.MaxEntryBytes, now: c.Now,
		ll: list.New(), byKey: map[string]*list.Element{}}
}

// MaxEntryBytes returns the largest body the cache stores, so a caller can
// stop capturing a body that will not be stored.
func (c *StaleCache) MaxEntryBytes() int64 { return c.maxEntry }

// Cacheable reports whether a response to a request with this method and
// headers may be stored: GET or HEAD, a 200, 203, 204, 300, 301, 404, 405,
// 410, 414 or 501 status (heuristically cacheable, RFC 9111 section 4.2.2),
// and neither side saying no-store, and the response not private or
// setting a cookie (a stale copy would be served to other users).
func Cacheable(method string, reqHeader http.Header, status int, respHeader http.Header) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	switch status {
	case 200, 203, 204, 300, 301, 404, 405, 410, 414, 501:
	default:
		return false
	}
	if reqHeader.Get("Authorization") != "" || respHeader.Get("Set-Cookie") != "" {
		return false
	}
	for _, h := range []string{reqHeader.Get("Cache-Control"), respHeader.Get("Cache-Control")} {
		h = strings.ToLower(h)
		if strings.Contains(h, "no-store") || strings.Contains(h, "private") {
			return false
		}
	}
	return true
}

// Put stores a response under key, replacing what was there. The header
// and body are kept as given and must not be changed afterwards. A body over
// MaxEntryBytes is not stored.
func (c *StaleCache) Put(key string, status int, header http.Header, body []byte) {
	if int64(len(body)) > c.maxEntry {
		return
	}
	e := &staleEntry{key: key, resp: Response{Status: status, Header: header, Body: body, StoredAt: c.now()}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byKey[key]; ok {
		c.bytes -= int64(len(old.Value.(*staleEntry).resp.Body))
		c.ll.Remove(old)
	}
	c.byKey[key] = c.ll.PushFront(e)
	c.bytes += int64(len(body))
	for c.bytes > c.maxBytes {
		last := c.ll.Back()
		le := last.Value.(*staleEntry)
		c.ll.Remove(last)
		delete(c.byKey, le.key)
		c.bytes -= int64(len(le.resp.Body))
	}
}

// Get returns the response stored under key if it is younger than the TTL.
// The result shares the stored header and body: do not modify them.
func (c *StaleCache) Get(key string) (Response, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return Response{}, false
	}
	e := el.Value.(*staleEntry)
	if c.now().Sub(e.resp.StoredAt) > c.ttl {
		c.ll.Remove(el)
		delete(c.byKey, key)
		c.bytes -= int64(len(e.resp.Body))
		return Response{}, false
	}
	return e.resp, true
}

// Len returns the number of entries and the bytes of their bodies.
func (c *StaleCache) Len() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bytes
}
