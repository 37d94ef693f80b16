package ratelimit

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrLimited is returned by [Concurrency.Allow] when every slot is taken.
var ErrLimited = errors.New("ratelimit: limited")

// Ticket is a slot of a [Concurrency] limit, returned by Allow or Wait and
// handed back to Done. It is a small value: keeping it costs no
// allocation. The zero Ticket is ignored by Done.
type Ticket struct{ ok bool }

// Concurrency limits the calls in flight: Allow takes a slot, Done gives
// it back. Its methods are safe for concurrent use; Allow and Done do not
// block or allocate (the count is one atomic word), Wait blocks.
type Concurrency struct {
	max      int64
	inflight atomic.Int64
	waiters  atomic.Int64
	freed    chan struct{} // a slot was given back while calls waited
}

// NewConcurrency returns a limit of max calls in flight; max ≤ 0 admits
// none.
func NewConcurrency(max int) *Concurrency {
	return &Concurrency{max: int64(max), freed: make(chan struct{}, 1)}
}

// Allow takes a slot if one is free, or returns [ErrLimited] (and the
// zero Ticket). Each Ticket it returns must be handed to Done once.
func (c *Concurrency) Allow() (Ticket, error) {
	for {
		n := c.inflight.Load()
		if n >= c.max {
			return Ticket{}, ErrLimited
		}
		if c.inflight.CompareAndSwap(n, n+1) {
			return Ticket{ok: true}, nil
		}
	}
}

// Wait takes a slot, waiting for one to be given back while every slot is
// taken; it returns ctx's error if ctx ends first. Waiting calls are not
// served in order.
func (c *Concurrency) Wait(ctx context.Context) (Ticket, error) {
	if t, err := c.Allow(); err == nil {
		return t, nil
	}
	// Counted as a waiter before trying again: a Done that frees the
	// slot after this try sees the waiter and signals.
	c.waiters.Add(1)
	defer c.waiters.Add(-1)
	for {
		if t, err := c.Allow(); err == nil {
			// One signal stands for any number of freed slots: pass
			// it on while slots remain.
			if c.inflight.Load() < c.max && c.waiters.Load() > 1 {
				c.signal()
			}
			return t, nil
		}
		select {
		case <-c.freed:
		case <-ctx.Done():
			return Ticket{}, ctx.Err()
		}
	}
}

func (c *Concurrency) signal() {
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// Done gives back the slot of t. The zero Ticket is ignored.
func (c *Concurrency) Done(t Ticket) {
	if !t.ok {
		return
	}
	c.inflight.Add(-1)
	if c.waiters.Load() > 0 {
		c.signal()
	}
}

// InFlight returns the slots taken now.
func (c *Concurrency) InFlight() int { return int(c.inflight.Load()) }

// Waiting returns the calls blocked in Wait now.
func (c *Concurrency) Waiting() int { return int(c.waiters.Load()) }

// Max returns the limit.
func (c *Concurrency) Max() int { return int(c.max) }
