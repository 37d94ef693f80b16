package breaker

import (
	"context"
	"log/slog"
	"slices"

	"github.com/duohuo/duohuo/internal/cowmap"
)

// Group holds one breaker per key, made on first use with the same
// Config: one per instance ID for per-instance breakers, one per route name
// for per-route breakers.
//
// Get is lock-free and does not allocate for a key it has seen: the
// breakers live in a map published through an atomic pointer and copied
// on write. Keys are kept until [Group.Retain] drops them, so a caller
// whose keys come and go (instances) must call Retain when they change.
// All methods are safe for concurrent use.
type Group struct {
	cfg Config
	m   cowmap.Map[string, *Breaker]
}

// NewGroup returns an empty Group whose breakers use cfg; each breaker's
// name is cfg.Name + "/" + key, or key when cfg.Name is empty. It fails
// with an error wrapping [ErrConfig] when cfg is invalid.
func NewGroup(cfg Config) (*Group, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Group{cfg: cfg}, nil
}

// Get returns the breaker for key, making it if needed.
func (g *Group) Get(key string) *Breaker {
	if b, ok := g.m.Load(key); ok {
		return b
	}
	return g.m.LoadOrMake(key, func() *Breaker {
		cfg := g.cfg
		cfg.Name = key
		if g.cfg.Name != "" {
			cfg.Name = g.cfg.Name + "/" + key
		}
		b, _ := New(cfg) // cfg was validated by NewGroup
		return b
	})
}

// Retain drops the breakers whose key keep rejects.
func (g *Group) Retain(keep func(key string) bool) {
	g.m.DeleteFunc(func(k string, _ *Breaker) bool { return !keep(k) })
}

// Keys returns the keys of the group's breakers, sorted.
func (g *Group) Keys() []string {
	keys := make([]string, 0, g.m.Len())
	for k := range g.m.All() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// LogTo returns an OnStateChange function that logs each event to l:
// opening at Warn, the rest at Info.
func LogTo(l *slog.Logger) func(Event) {
	return func(e Event) {
		level := slog.LevelInfo
		if e.To == Open {
			level = slog.LevelWarn
		}
		l.LogAttrs(context.Background(), level, "breaker state change",
			slog.String("breaker", e.Name),
			slog.String("from", e.From.String()),
			slog.String("to", e.To.String()),
			slog.String("reason", e.Reason),
			slog.Uint64("generation", uint64(e.Generation)))
	}
}
