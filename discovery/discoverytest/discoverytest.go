package discoverytest

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/duohuo/duohuo/discovery"
)

// Source is an in-memory [discovery.Source] whose report the test sets with
// [Source.Set]. It is safe for concurrent use.
type Source struct {
	name string

	mu      sync.Mutex // guards the fields below
	u       discovery.Updater
	state   map[string][]discovery.Instance
	hasSet  bool
	watches int
}

var _ discovery.Source = (*Source)(nil)

// NewSource returns a Source called name that reports nothing until Set.
func NewSource(name string) *Source { return &Source{name: name} }

// Name implements [discovery.Source].
func (s *Source) Name() string { return s.name }

// Watch implements [discovery.Source]: it reports the last state given to
// Set, if any, then forwards every Set until ctx is done.
func (s *Source) Watch(ctx context.Context, u discovery.Updater) error {
	s.mu.Lock()
	s.u = u
	s.watches++
	if s.hasSet {
		_ = u.Update(s.state) // a refused state is recorded by the aggregator
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.u = nil
	s.mu.Unlock()
	return ctx.Err()
}

// Set makes services the source's report. While Watch runs, the report is
// delivered at once and Set returns the aggregator's verdict (an
// [*discovery.UpdateError] when refused); before that, it is kept for
// Watch and Set returns nil.
func (s *Source) Set(services map[string][]discovery.Instance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.hasSet = services, true
	if s.u != nil {
		return s.u.Update(services)
	}
	return nil
}

// Fail reports err through a running Watch; it does nothing otherwise.
func (s *Source) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.u != nil {
		s.u.Fail(err)
	}
}

// Watches returns how many times Watch has been called.
func (s *Source) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watches
}

// Instances returns one instance per address ("10.0.0.1:8080", "[::1]:80")
// with the default weight and no locality. It panics on a malformed
// address, which is a bug in the test.
func Instances(addrs ...string) []discovery.Instance {
	out := make([]discovery.Instance, len(addrs))
	for i, a := range addrs {
		out[i] = discovery.Instance{Addr: netip.MustParseAddrPort(a), Weight: discovery.DefaultWeight}
	}
	return out
}

// WaitTimeout bounds how long [WaitView] waits.
const WaitTimeout = 30 * time.Second

// WaitView waits until the view of service satisfies ok (ok receives nil
// while no source reports the service) and returns that view. It fails the
// test after [WaitTimeout] or when the aggregator closes first.
func WaitView(tb testing.TB, a *discovery.Aggregator, service string, ok func(*discovery.ServiceView) bool) *discovery.ServiceView {
	tb.Helper()
	changes, cancel := a.Subscribe()
	defer cancel()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		// Subscribed before the first read, so no change is missed.
		v := a.View(service)
		if ok(v) {
			return v
		}
		select {
		case _, open := <-changes:
			if !open {
				tb.Fatalf("WaitView(%q): aggregator closed; last view %+v", service, v)
			}
		case <-deadline.C:
			tb.Fatalf("WaitView(%q): condition not met after %v; last view %+v", service, WaitTimeout, v)
		}
	}
}
