package replica

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/duohuo/duohuo/crdt"
)

// Limits a write must keep, checked before it is applied so that nothing
// is acknowledged that a decoder (package crdt, the replication messages,
// recovery) would refuse: an acknowledged write always reloads after a
// crash and always replicates. docs/security.md lists them all.
const (
	// MaxNameLen is the longest object name, in bytes: the longest key
	// bbolt stores (an object is checkpointed under its name), below the
	// 64 KiB the replication messages accept.
	MaxNameLen = bolt.MaxKeySize
	// MaxKeyLen is the longest map key, set member or LWW-set element, in
	// bytes (crdt.MaxKeyLen).
	MaxKeyLen = crdt.MaxKeyLen
	// MaxValueLen is the longest map or register value, in bytes
	// (crdt.MaxValueLen).
	MaxValueLen = crdt.MaxValueLen
	// MaxObjectLen bounds the encoded size of an object after a local
	// write, and of the write's delta. An object travels whole in one
	// anti-entropy message, and memberlist carries at most 20 MiB in one
	// stream message (maxUserMsgBytes, and the same bound on an encrypted
	// stream); 1 MiB is left for the message's header, the object's name
	// and the encryption. It is well under crdt.MaxEncodedLen (64 MiB), the
	// decoders' bound, so an object that concurrent writes at several
	// sites push a little past it still loads.
	MaxObjectLen = 19 << 20
)

// Errors of a refused write, which callers branch on with errors.Is. A
// refused write changes nothing.
var (
	// ErrTooLarge: a name, key, member, value, delta or object over its
	// limit. The error is a [*LimitError].
	ErrTooLarge = errors.New("replica: write exceeds a limit")
	// ErrInvalid: a write that no size change makes valid, such as an
	// empty object name.
	ErrInvalid = errors.New("replica: invalid write")
)

// LimitError names the limit a refused write exceeds. It wraps
// [ErrTooLarge].
type LimitError struct {
	What  string // "object name", "map key", "value", "object", ...
	Len   int    // bytes the write asked for; 0 if unknown (a request body cut at the limit)
	Limit int    // bytes allowed
}

func (e *LimitError) Error() string {
	if e.Len <= 0 {
		return fmt.Sprintf("replica: %s exceeds the limit of %d bytes", e.What, e.Limit)
	}
	return fmt.Sprintf("replica: %s of %d bytes exceeds the limit of %d bytes", e.What, e.Len, e.Limit)
}

// Unwrap returns [ErrTooLarge].
func (e *LimitError) Unwrap() error { return ErrTooLarge }

func checkLen(what string, n, limit int) error {
	if n > limit {
		return &LimitError{What: what, Len: n, Limit: limit}
	}
	return nil
}

func validKey(key string) error {
	if key == "" {
		return fmt.Errorf("replica: empty object name: %w", ErrInvalid)
	}
	return checkLen("object name", len(key), MaxNameLen)
}

// opOverhead bounds what one mutation adds to an encoding besides its key
// and value: a dot, a timestamp or stamp, length prefixes, the context of
// the key's concurrent writes. Generous on purpose: a write whose bound
// comes near MaxObjectLen is measured exactly (see Store.prepare).
const opOverhead = 4 << 10

// nearMargin is how close to MaxObjectLen an object's estimated size
// (see Store.sizes) may come before a write to it is measured exactly.
const nearMargin = 1 << 20
