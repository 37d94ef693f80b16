package gateway

import (
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
			f.stale = resilience.NewStaleCache(staleConfig(*c.Stale))
		}
	}
	return f
}

// breakerHooks names a breaker's config and counts its state changes in
// the metrics, kind being "instance" or "route".
func (m *metrics) breakerHooks(bc breaker.Config, name, kind string) breaker.Config {
	bc.Name = name
	bc.OnStateChange = func(e breaker.Event) {
		m.breakerTransitions.WithLabelValues(kind, e.To.String()).Inc()
	}
	return bc
}
