package replica

import (
	"sync"
)

// A site never tells another site anything that a crash could make it
// forget. Every change to the in-memory objects (a local write, a settled
// conflict, a received delta) gets a sequence number when it is applied,
// under the store's lock; the committer marks it durable once its log entry
// is fsynced, or once a checkpoint that includes it is. What leaves the
// site and reflects the in-memory state — full states for anti-entropy, the
// garbage-collection ack that vouches for what this site holds — is
// captured together with the last sequence number issued, and is sent only
// after everything up to that number is durable. Deltas of local writes are
// sent after they are durable anyway.
//
// Hence whatever any other site learned from this one is on this site's
// disk, and a restart after a crash (kill -9, power loss) is, to the other
// sites, no different from a pause: the store keeps its replica id, no dot
// or counter slot it issued is ever issued again for another write, and no
// version vector grows an entry per crash. (An earlier design restarted a
// crashed store under a new replica id because a write applied in memory
// but not yet fsynced could have reached another site in a state transfer;
// each crash then left one more entry in every object the new incarnation
// wrote, never reclaimed.)
//
// The wait costs a state transfer or an ack at most one group-commit fsync.
// If the disk fails, the changes that could not be committed stay pending
// until a checkpoint succeeds (the committer retries one after every batch
// and every second), and outgoing states and acks wait with them:
// a site that cannot persist its state stops vouching for it, while
// receiving what others send and sending its durable deltas as before.
type watermark struct {
	mu      sync.Mutex
	last    uint64              // guarded by mu: the last sequence number issued
	pending map[uint64]struct{} // guarded by mu: issued, not yet durable
	changed chan struct{}       // guarded by mu: closed when durable() advances
}

func newWatermark() *watermark {
	return &watermark{pending: make(map[uint64]struct{}), changed: make(chan struct{})}
}

// issue returns the next sequence number, not yet durable. Called with the
// store's lock held, at the change it numbers.
func (w *watermark) issue() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last++
	w.pending[w.last] = struct{}{}
	return w.last
}

// issued returns the last sequence number issued. Called with the store's
// lock held, it names every change in the objects at that moment.
func (w *watermark) issued() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// durableLocked returns the greatest n such that every change numbered up
// to n is durable.
func (w *watermark) durableLocked() uint64 {
	n := w.last
	for seq := range w.pending {
		n = min(n, seq-1)
	}
	return n
}

// durable returns the greatest n such that every change numbered up to n
// is durable.
func (w *watermark) durable() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.durableLocked()
}

// done marks the given changes durable.
func (w *watermark) done(seqs ...uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range seqs {
		delete(w.pending, s)
	}
	w.notifyLocked()
}

// doneThrough marks every change numbered up to n durable: a checkpoint
// wrote the objects as they were when n was the last number issued.
func (w *watermark) doneThrough(n uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.pending {
		if s <= n {
			delete(w.pending, s)
		}
	}
	w.notifyLocked()
}

func (w *watermark) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// advanced returns a channel closed when durable() next advances. Take it
// before reading durable(), so that no advance is missed.
func (w *watermark) advanced() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// count returns how many changes are not yet durable.
func (w *watermark) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}
