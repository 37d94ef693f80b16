package gateway

import (
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
