package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sealer encrypts and authenticates the values a [Store] writes to its
// file (Config.AtRest). *gm.KeyRing, SM4-GCM under a ring of keys, is one;
// the store does not care which cipher is behind it.
//
// Seal appends the sealed form of plaintext to dst, bound to place (the
// record's bucket and key), which is not stored. Open reverses it for the
// same place and appends the plaintext to dst; it returns an error, never
// panics, for anything it did not seal there with a key it still holds.
// Stale reports whether a sealed value was sealed with a key other than
// the one Seal uses now. All three must be safe for concurrent use.
type Sealer interface {
	Seal(dst, plaintext, place []byte) ([]byte, error)
	Open(dst, sealed, place []byte) ([]byte, error)
	Stale(sealed []byte) bool
}

// What is sealed, with Config.AtRest set (docs/replication.md, "Encryption
// at rest"): the values of objects/ and log/, and the state part of a
// conflicts/ value (its birth and time stay clear). A sealed value is
// sealMark followed by the Sealer's output. No clear value starts with
// that byte: an object's encoding starts with crdt.FormatVersion (1), a log
// entry with the uvarint length of a non-empty name, and an aside state,
// after its 24-byte birth and time, with crdt.FormatVersion again. So the
// first byte tells sealed from clear, and a store written without
// encryption opens with it: clear values read as before, and are sealed
// when next written.
//
// Names (bbolt keys), births, the meta bucket (replica id, clock, members
// and their addresses) and the quarantine bucket (which keeps records
// byte for byte, sealed ones sealed) are not encrypted.
const sealMark = 0

// ErrNoKeys is returned by [Open] when the store file holds sealed records
// and Config.AtRest is nil. The file is left as it is: configure the keys
// it was written with and open it again.
var ErrNoKeys = errors.New("replica: the store file holds records encrypted at rest, and no at-rest keys are configured")

// errUnseal marks a record whose sealed value does not open; the Sealer's
// error says why (a key the ring lacks, a failed tag).
var errUnseal = errors.New("sealed value does not open")

// sealPlace is a record's place, the additional data its sealed value is
// bound to: the bucket's name, a slash, the record's key. A value moved to
// another key or bucket no longer opens.
func sealPlace(bucket, key []byte) []byte {
	p := make([]byte, 0, len(bucket)+1+len(key))
	return append(append(append(p, bucket...), '/'), key...)
}

// logKey is the bbolt key of log entry seq.
func logKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// seal returns the value to store for plain at bucket/key: plain itself
// without a Sealer, else sealMark and the sealed form, in a fresh slice
// (bbolt keeps it until the transaction commits). prefix, written clear
// before it, is the part of a conflicts/ value that stays clear.
func (d *disk) seal(bucket, key, prefix, plain []byte) ([]byte, error) {
	if d.sealer == nil {
		if prefix == nil {
			return plain, nil
		}
		return append(append(make([]byte, 0, len(prefix)+len(plain)), prefix...), plain...), nil
	}
	// 64 bytes is room for the overhead of an AEAD's header and tag
	// (gm.KeyRing: 30), so that the value is allocated once.
	out := make([]byte, 0, len(prefix)+1+len(plain)+64)
	out = append(append(out, prefix...), sealMark)
	out, err := d.sealer.Seal(out, plain, sealPlace(bucket, key))
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", sealPlace(bucket, key), err)
	}
	return out, nil
}

// unseal returns the clear form of a stored value v (after skip bytes
// that are always clear): v itself if it is clear. stale is true, with a
// Sealer, for a value that is clear or sealed with a key other than the
// active one: the store seals it again (see Store.reseal). An error means
// the record cannot be loaded: it wraps errUnseal, or is [ErrNoKeys].
func (d *disk) unseal(bucket, key, v []byte, skip int) (plain []byte, stale bool, err error) {
	if len(v) <= skip || v[skip] != sealMark {
		return v, d.sealer != nil, nil
	}
	if d.sealer == nil {
		return nil, false, ErrNoKeys
	}
	sealed := v[skip+1:]
	plain, err = d.sealer.Open(append([]byte(nil), v[:skip]...), sealed, sealPlace(bucket, key))
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errUnseal, err)
	}
	return plain, d.sealer.Stale(sealed), nil
}
