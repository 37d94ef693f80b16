package discovery

import "context"

// Source is a registry that reports the instances of one or more services: a
// file, a DNS name, an etcd prefix, a fixed list.
//
// An [Aggregator] calls Watch once per run, on a goroutine it owns, and
// cancels ctx to stop it. Watch reports through u until ctx is done, then
// returns ctx.Err(). A Watch that returns early with an error is called
// again after a backoff; one that returns nil is finished, and what it
// reported stays.
type Source interface {
	// Name identifies the source in views, errors and status, e.g.
	// "static", "file:/etc/duohuo/instances.yaml",
	// "dns:_api._tcp.example.com". Names are unique within an Aggregator.
	Name() string
	// Watch reports the source's state to u until ctx is done.
	Watch(ctx context.Context, u Updater) error
}

// Updater receives a source's reports. Its methods are safe for concurrent
// use and do not block on readers.
type Updater interface {
	// Update replaces everything the source reports with services: a
	// service absent from the map is no longer reported by this source; a
	// service present with an empty list is reported as having no
	// instances. Update does not keep services or its slices (it copies
	// them). A bad report is refused as a whole with an [*UpdateError], and
	// the source's last good report stays in force.
	Update(services map[string][]Instance) error
	// Fail records err as the source's latest error (a bad file, a resolver
	// failure) without changing what it reports.
	Fail(err error)
}
