package etcd

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/discovery"
)

// ErrConfig means a Config is unusable.
var ErrConfig = errors.New("etcd source: bad config")

// ErrBadEntry is wrapped by the error recorded for a key that cannot be an
// instance (a malformed key, bad JSON, an invalid or duplicate instance).
var ErrBadEntry = errors.New("etcd source: bad entry")

// Config configures a [Source]. Client and Prefix are required.
type Config struct {
	// Client is the etcd client; the source does not close it.
	Client *clientv3.Client
	// Prefix is the key prefix, e.g. "/duohuo/instances/"; a final "/" is
	// added if missing.
	Prefix string
	// Name is the source's name. If empty, "etcd:" followed by Prefix.
	Name string
	// Timeout bounds the read of the whole prefix and each health check.
	// If zero, 5s.
	Timeout time.Duration
	// CheckInterval is how often the source checks, while watching, that
	// etcd still answers. The etcd client keeps a watch across
	// disconnections and resumes it without losing events, so without this
	// check an unreachable cluster would look healthy. If zero, 10s.
	CheckInterval time.Duration
}

// Source reports the instances registered under a prefix in etcd and
// follows them with a watch. It is safe for concurrent use.
//
// Bad entries: a key that cannot be an instance is left out and reported
// with Updater.Fail (naming the key), while every other key is served.
// Unlike a file, an etcd prefix has many writers, and one bad registration
// must not freeze discovery for all.
//
// Failures: a read of the prefix that fails (bounded by Timeout) or a watch
// that breaks (the member lost its leader, the connection dropped) ends
// Watch with the error; the aggregator records it and calls Watch again
// after a backoff, which reads the prefix afresh. Meanwhile the last good
// instances keep serving. A watch whose revision was compacted resyncs at
// once.
type Source struct {
	cfg Config
}

var _ discovery.Source = (*Source)(nil)

// NewSource checks cfg and returns a Source.
func NewSource(cfg Config) (*Source, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("%w: Client is nil", ErrConfig)
	}
	if strings.Trim(cfg.Prefix, "/") == "" {
		return nil, fmt.Errorf("%w: Prefix %q is empty or the whole keyspace", ErrConfig, cfg.Prefix)
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	cfg.Name = cmp.Or(cfg.Name, "etcd:"+cfg.Prefix)
	cfg.Timeout = cmp.Or(cfg.Timeout, 5*time.Second)
	cfg.CheckInterval = cmp.Or(cfg.CheckInterval, 10*time.Second)
	return &Source{cfg: cfg}, nil
}

// Name implements [discovery.Source].
func (s *Source) Name() string { return s.cfg.Name }

// Watch implements [discovery.Source]: it reads the prefix, reports it, and
// follows changes until ctx is done.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	for {
		rctx, rcancel := context.WithTimeout(ctx, s.cfg.Timeout)
		resp, err := s.cfg.Client.Get(rctx, s.cfg.Prefix, clientv3.WithPrefix())
		rcancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read %s: %w", s.cfg.Prefix, err)
		}
		state := make(map[string][]byte, len(resp.Kvs))
		for _, kv := range resp.Kvs {
			state[string(kv.Key)] = kv.Value
		}
		s.report(u, state)

		// WithRequireLeader: a member cut off from its cluster ends the
		// watch instead of serving a silent, frozen view.
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.cfg.Client.Watch(wctx, s.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		err = s.follow(ctx, wch, u, state)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, rpctypes.ErrCompacted) {
			// The aggregator records it and calls Watch again after a
			// backoff, which resyncs.
			return fmt.Errorf("watch %s: %w", s.cfg.Prefix, err)
		}
		// Compacted past our revision: resync with a fresh read at once.
	}
}

// follow applies watch events to state and reports after each batch, until
// the watch ends. Every CheckInterval it checks that etcd answers: a
// failure is recorded (the source shows stale, the last good instances
// serve, the watch resumes by itself on reconnect) and the next success
// reports the state again, which clears it.
func (s *Source) follow(ctx context.Context, wch clientv3.WatchChan, u discovery.Updater, state map[string][]byte) error {
	tick := time.NewTicker(s.cfg.CheckInterval)
	defer tick.Stop()
	failing := false
	for {
		var resp clientv3.WatchResponse
		select {
		case <-tick.C:
			cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
			_, err := s.cfg.Client.Get(cctx, s.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
			cancel()
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				failing = true
				u.Fail(fmt.Errorf("check %s: %w (serving the last good instances; the watch resumes on reconnect)", s.cfg.Prefix, err))
			case failing:
				failing = false
				s.report(u, state)
			}
			continue
		case r, ok := <-wch:
			if !ok {
				return errors.New("watch channel closed")
			}
			resp = r
		}
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			switch ev.Type {
			case clientv3.EventTypePut:
				state[string(ev.Kv.Key)] = ev.Kv.Value
			case clientv3.EventTypeDelete:
				delete(state, string(ev.Kv.Key))
			}
		}
		s.report(u, state)
	}
}

// report decodes state and reports it; bad keys are left out and reported.
func (s *Source) report(u discovery.Updater, state map[string][]byte) {
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a duplicate is resolved the same way every time
	services := map[string][]discovery.Instance{}
	seen := map[string]map[string]string{} // service → address or ID → key
	var bad []error
	for _, k := range keys {
		svc, in, err := s.decode(k, state[k])
		if err == nil {
			if seen[svc] == nil {
				seen[svc] = map[string]string{}
			}
			addr := "addr " + netip.AddrPortFrom(in.Addr.Addr().Unmap().WithZone(""), in.Addr.Port()).String()
			id := "id " + in.ID
			if other, dup := seen[svc][addr]; dup {
				err = fmt.Errorf("%w: key %s: address %s already registered by %s", ErrBadEntry, k, in.Addr, other)
			} else if other, dup := seen[svc][id]; dup {
				err = fmt.Errorf("%w: key %s: id %q already registered by %s", ErrBadEntry, k, in.ID, other)
			} else {
				seen[svc][addr], seen[svc][id] = k, k
			}
		}
		if err != nil {
			bad = append(bad, err)
			continue
		}
		services[svc] = append(services[svc], in)
	}
	_ = u.Update(services) // a refusal is recorded by the aggregator
	if len(bad) > 0 {
		u.Fail(errors.Join(bad...))
	}
}

// entry is an instance as JSON: the fields of the instances file.
type entry struct {
	ID       string            `json:"id"`
	Addr     string            `json:"addr"`
	Weight   *int64            `json:"weight"`
	Cloud    string            `json:"cloud"`
	Region   string            `json:"region"`
	Zone     string            `json:"zone"`
	Labels   map[string]string `json:"labels"`
	Metadata map[string]string `json:"metadata"`
}

func (s *Source) decode(key string, value []byte) (string, discovery.Instance, error) {
	rest := strings.TrimPrefix(key, s.cfg.Prefix)
	svc, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return "", discovery.Instance{}, fmt.Errorf("%w: key %s is not %s<service>/<id>", ErrBadEntry, key, s.cfg.Prefix)
	}
	if err := discovery.CheckService(svc); err != nil {
		return "", discovery.Instance{}, fmt.Errorf("%w: key %s: %w", ErrBadEntry, key, err)
	}
	var e entry
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return "", discovery.Instance{}, fmt.Errorf("%w: key %s: %w", ErrBadEntry, key, err)
	}
	ap, err := netip.ParseAddrPort(e.Addr)
	if err != nil {
		return "", discovery.Instance{}, fmt.Errorf("%w: key %s: %w: %q is not IP:port", ErrBadEntry, key, discovery.ErrInvalidAddr, e.Addr)
	}
	w := int64(discovery.DefaultWeight)
	if e.Weight != nil {
		w = *e.Weight
	}
	if w < 0 || w > discovery.MaxWeight {
		return "", discovery.Instance{}, fmt.Errorf("%w: key %s: %w: %d is outside 0..%d", ErrBadEntry, key, discovery.ErrInvalidWeight, w, discovery.MaxWeight)
	}
	in := discovery.Instance{
		ID:       cmp.Or(e.ID, id),
		Addr:     ap,
		Weight:   uint32(w),
		Locality: discovery.Locality{Cloud: e.Cloud, Region: e.Region, Zone: e.Zone},
		Labels:   e.Labels,
		Metadata: e.Metadata,
	}
	if err := in.Validate(); err != nil {
		return "", discovery.Instance{}, fmt.Errorf("%w: key %s: %w", ErrBadEntry, key, err)
	}
	return svc, in, nil
}
