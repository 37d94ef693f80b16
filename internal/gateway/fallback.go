package gateway

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/duohuo/duohuo/breaker"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/resilience"
)

// HeaderFallback marks a reply the gateway served from a fallback: "stale"
// (the last good response, with its age in Age) or "static".
const HeaderFallback = "X-Duohuo-Fallback"

// fallback is a route's compiled fallback configuration.
type fallback struct {
	stale  *resilience.StaleCache // nil: no serve-stale
	static *config.StaticReply    // nil: no static reply
}

func newFallback(c *config.Fallback, old *fallback) *fallback {
	if c == nil || (c.Stale == nil && c.Static == nil) {
		return nil
	}
	f := &fallback{static: c.Static}
	if c.Stale != nil {
		// Keep what the old route had stored: a reload must not empty
		// the cache a failover may be about to need.
		if old != nil && old.stale != nil {
			f.stale = old.stale
		} else {
			f.stale = resilience.NewStaleCache(resilience.StaleConfig{
				TTL:           time.Duration(c.Stale.TTL),
				MaxBytes:      int64(c.Stale.MaxBytes),
				MaxEntryBytes: int64(c.Stale.MaxEntryBytes),
			})
		}
	}
	return f
}

func staleKey(r *http.Request) string { return r.Method + " " + r.Host + r.URL.RequestURI() }

// serveFallback answers r from the route's fallback, if it has one that
// applies, and reports whether it did and with which status.
func (g *Gateway) serveFallback(w http.ResponseWriter, r *http.Request, rt *route) (int, bool) {
	fb := rt.fallback
	if fb == nil {
		return 0, false
	}
	if fb.stale != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if resp, ok := fb.stale.Get(staleKey(r)); ok {
			h := w.Header()
			for k, vv := range resp.Header {
				h[k] = vv
			}
			h.Set(HeaderFallback, "stale")
			h.Set("Age", strconv.Itoa(int(time.Since(resp.StoredAt).Seconds())))
			w.WriteHeader(resp.Status)
			if r.Method != http.MethodHead {
				w.Write(resp.Body)
			}
			g.m.fallbacks.WithLabelValues(rt.name, "stale").Inc()
			return resp.Status, true
		}
	}
	if s := fb.static; s != nil {
		h := w.Header()
		h.Set("Content-Type", s.ContentType)
		h.Set(HeaderFallback, "static")
		w.WriteHeader(s.Status)
		if r.Method != http.MethodHead {
			w.Write([]byte(s.Body))
		}
		g.m.fallbacks.WithLabelValues(rt.name, "static").Inc()
		return s.Status, true
	}
	return 0, false
}

// captureWriter copies what is written to the client, up to limit bytes, so
// that a good response can be stored for serve-stale.
type captureWriter struct {
	http.ResponseWriter
	limit    int64
	buf      bytes.Buffer
	overflow bool
}

func (c *captureWriter) Write(p []byte) (int, error) {
	if !c.overflow {
		if int64(c.buf.Len()+len(p)) > c.limit {
			c.overflow = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(p)
		}
	}
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// store keeps a finished response for serve-stale when it may be stored.
func (c *captureWriter) store(fb *fallback, r *http.Request, status int) {
	if c.overflow || !resilience.Cacheable(r.Method, r.Header, status, c.Header()) {
		return
	}
	h := c.Header().Clone()
	for _, k := range []string{HeaderFallback, "X-Request-Id", "Date"} {
		delete(h, k)
	}
	fb.stale.Put(staleKey(r), status, h, c.buf.Bytes())
}

// breakerConfig maps the file's breaker section to the package's.
func breakerConfig(c config.Breaker, name string, m *metrics, kind string) breaker.Config {
	bc := breaker.Config{
		Name:                name,
		ConsecutiveFailures: c.ConsecutiveFailures,
		FailureRatio:        c.FailureRatio.Fraction(),
		MinRequests:         c.MinRequests,
		Window:              time.Duration(c.Window),
		SlowCallThreshold:   time.Duration(c.SlowCallThreshold),
		SlowCallRatio:       c.SlowCallRatio.Fraction(),
		OpenTimeout:         time.Duration(c.OpenTimeout),
		HalfOpenProbes:      c.HalfOpenProbes,
	}
	// In the file 0 disables a trigger; in the package 0 means its default.
	if c.ConsecutiveFailures == 0 {
		bc.ConsecutiveFailures = -1
	}
	if c.FailureRatio == 0 {
		bc.FailureRatio = -1
	}
	bc.OnStateChange = func(e breaker.Event) {
		m.breakerTransitions.WithLabelValues(kind, e.To.String()).Inc()
	}
	return bc
}

// breakerClass is the breaker's view of an attempt's outcome.
func breakerClass(f failure, status int) breaker.Class {
	switch f {
	case failConnect, failReset:
		return breaker.Network
	case failTimeout:
		return breaker.Timeout
	case failClientCanceled:
		return breaker.Canceled
	}
	return breaker.ClassOfStatus(status)
}
