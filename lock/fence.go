package lock

import (
	"fmt"
	"sync/atomic"
)

// Fence is the resource side of fencing: it remembers the highest [Token] it
// has admitted and refuses lower ones. Embed one Fence per protected resource
// (a file, a row, a register) in the store that owns it.
//
// Call Admit on every access made under the lock, reads included. If only
// writes are fenced, a stale holder that read before its lease ran out can
// still write before the new holder's first write and lose the new holder's
// update; admitting the new holder's read first closes that window.
//
// The zero value admits any token. Fence is safe for concurrent use and never
// blocks (a compare-and-swap loop on one word).
type Fence struct {
	highest atomic.Int64
}

// Admit records t as seen and returns nil if t is not lower than the highest
// token admitted so far. Otherwise it returns an error wrapping
// [ErrStaleToken] naming both tokens, and the resource must refuse the access.
// Tokens at or below zero are never valid and are refused.
func (f *Fence) Admit(t Token) error {
	if t <= 0 {
		return fmt.Errorf("admit token %d: not a granted token: %w", t, ErrStaleToken)
	}
	for {
		cur := f.highest.Load()
		if int64(t) < cur {
			return fmt.Errorf("admit token %d: fence has seen %d: %w", t, cur, ErrStaleToken)
		}
		if int64(t) == cur || f.highest.CompareAndSwap(cur, int64(t)) {
			return nil
		}
	}
}

// Highest returns the highest token admitted so far, or zero if none.
func (f *Fence) Highest() Token { return Token(f.highest.Load()) }
