package static

import (
	"context"
	"maps"
	"slices"

	"github.com/duohuo/duohuo/discovery"
)

// Source reports a fixed set of instances given as Go values, typically from
// the gateway's config file. It is safe for concurrent use.
type Source struct {
	name     string
	services map[string][]discovery.Instance
}

var _ discovery.Source = (*Source)(nil)

// New returns a Source called name (e.g. "static") that reports services.
// It copies services, so the caller may reuse it.
func New(name string, services map[string][]discovery.Instance) *Source {
	cp := make(map[string][]discovery.Instance, len(services))
	for svc, list := range services {
		cp[svc] = slices.Clone(list)
	}
	return &Source{name: name, services: cp}
}

// Name implements [discovery.Source].
func (s *Source) Name() string { return s.name }

// Watch implements [discovery.Source]: it reports the instances once and
// waits for ctx. A refused report (a bad instance in the config) is recorded
// in the aggregator's status and is not retried, since it cannot change.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	_ = u.Update(maps.Clone(s.services))
	<-ctx.Done()
	return ctx.Err()
}
