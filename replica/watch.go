package replica

import (
	"context"
	"strings"

	"github.com/duohuo/duohuo/crdt"
)

// Event reports that an object changed, by a local write or a delta or
// state from another site.
type Event struct {
	Key    string
	Object crdt.Object // a copy of the state after the change; the receiver owns it
}

// watcher coalesces changes: keys changed since the last delivery are kept
// in a set, so a slow reader gets the latest state of each key rather than
// an unbounded backlog.
type watcher struct {
	prefix  string
	pending map[string]struct{} // guarded by Store.mu
	wake    chan struct{}       // capacity 1
	done    chan struct{}       // closed when the store closes
	stopped bool                // guarded by Store.mu
}

func (w *watcher) stopLocked() {
	if !w.stopped {
		w.stopped = true
		close(w.done)
	}
}

// notifyLocked records that key changed, for watchers and the digest
// cache. Every change to an object calls it. Called with s.mu held.
func (s *Store) notifyLocked(key string) {
	delete(s.digests, key)
	for w := range s.watchers {
		if strings.HasPrefix(key, w.prefix) {
			w.pending[key] = struct{}{}
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Watch returns a channel of changes to objects whose names start with
// prefix, beginning with one event per existing object. Changes that
// happen while the reader is slow are coalesced per object: every object
// that changed is reported with its latest state. The channel is closed
// when ctx is done or the store closes; the goroutine feeding it stops then.
func (s *Store) Watch(ctx context.Context, prefix string) <-chan Event {
	out := make(chan Event)
	w := &watcher{prefix: prefix, pending: make(map[string]struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		close(out)
		return out
	}
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			w.pending[k] = struct{}{}
		}
	}
	w.wake <- struct{}{}
	s.watchers[w] = struct{}{}
	s.wg.Add(1) // under mu, before Close can start waiting
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		defer close(out)
		defer func() {
			s.mu.Lock()
			delete(s.watchers, w)
			s.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.done:
				return
			case <-s.stop:
				return
			case <-w.wake:
			}
			s.mu.Lock()
			var evs []Event
			for k := range w.pending {
				if o, ok := s.objects[k]; ok {
					evs = append(evs, Event{Key: k, Object: crdt.Clone(o)})
				}
			}
			clear(w.pending)
			s.mu.Unlock()
			for _, ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				case <-w.done:
					return
				case <-s.stop:
					return
				}
			}
		}
	}()
	return out
}
