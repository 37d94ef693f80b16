package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/duohuo/duohuo/gm"
)

// Record is one audited operation, one line of an audit log. The fields are
// what a caller fills in; Seq and Prev are set by the [Log] that writes it.
type Record struct {
	// Seq is the record's 1-based position in the chain (set by Log).
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Method is the full RPC method, e.g. "/etcdserverpb.KV/Put".
	Method string `json:"method"`
	// Event distinguishes the records of a stream: "open", "send", "close".
	// Empty for unary calls.
	Event string `json:"event,omitempty"`
	// Key and RangeEnd are the (redacted) key range the call touched.
	Key      string `json:"key,omitempty"`
	RangeEnd string `json:"range_end,omitempty"`
	// Keys lists the (redacted) keys of a transaction.
	Keys []string `json:"keys,omitempty"`
	// Lease is the lease ID the call named or obtained, if any.
	Lease int64 `json:"lease,omitempty"`
	// Principal is who made the call: a user, a service, a host.
	Principal string `json:"principal,omitempty"`
	// Outcome is the gRPC status code name: "OK", "Unavailable", …
	Outcome string `json:"outcome"`
	// Error is the error message when Outcome is not OK.
	Error string `json:"error,omitempty"`
	// LatencyMicros is the call's duration in microseconds.
	LatencyMicros int64 `json:"latency_us"`
	// Revision is the store revision in the response header, if any.
	Revision int64 `json:"revision,omitempty"`
	// KeyID and Sealed are set, by a Log with [Options].AtRest, in place
	// of the fields from Method to Revision: Sealed is those fields as
	// JSON, sealed with SM4-GCM under key KeyID of a [gm.KeyRing] and bound
	// to the record's Seq and Prev (see [Unseal]). Seq, Time and Prev stay
	// clear, and the chain covers the sealed form, so [Verify] checks a
	// sealed log without the keys. Both are absent from a clear record.
	KeyID  uint8  `json:"key_id,omitempty"`
	Sealed []byte `json:"sealed,omitempty"`
	// Prev is the hex SM3 hash of the previous record (set by Log); the
	// first record of a chain carries the chain's start (64 zeros by
	// default).
	Prev string `json:"prev"`
}

// Head identifies the end of a chain: the last record's Seq and hash. A
// head kept somewhere the log's writer cannot change (another host, a
// signed note) anchors the chain, so that losing records at the end of the
// file is detected too.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// ZeroHash is the Prev of the first record of a new chain.
var ZeroHash = hex.EncodeToString(make([]byte, gm.SM3Size))

// Errors about chains; compare with errors.Is. A *[ChainError] wraps one of
// them.
var (
	// ErrTampered: a record's hash does not match its contents (edited), or
	// its Prev does not match the previous record's hash.
	ErrTampered = errors.New("audit: chain broken")
	// ErrMissing: records are missing or out of order (a gap or step back
	// in Seq).
	ErrMissing = errors.New("audit: records missing or reordered")
	// ErrMalformed: a line is not a record (cut, joined or garbled).
	ErrMalformed = errors.New("audit: malformed record")
	// ErrTruncated: the chain ends before its anchored head.
	ErrTruncated = errors.New("audit: chain truncated")
	// ErrKeyMissing: a record is sealed with a key that the key ring given
	// to [Verify] or [Unseal] does not hold.
	ErrKeyMissing = errors.New("audit: sealed with a key not given")
	// ErrTorn: the last line has no newline, as a crash in the middle of a
	// write leaves it. It wraps ErrMalformed. [Open] removes such a line
	// and records that it did.
	ErrTorn = fmt.Errorf("%w: torn last line", ErrMalformed)
)
