package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/duohuo/duohuo/gm"
)

// content is what a sealed record seals: the fields of a [Record] that
// describe the call, with the same JSON names.
type content struct {
	Method        string   `json:"method,omitempty"`
	Event         string   `json:"event,omitempty"`
	Key           string   `json:"key,omitempty"`
	RangeEnd      string   `json:"range_end,omitempty"`
	Keys          []string `json:"keys,omitempty"`
	Lease         int64    `json:"lease,omitempty"`
	Principal     string   `json:"principal,omitempty"`
	Outcome       string   `json:"outcome,omitempty"`
	Error         string   `json:"error,omitempty"`
	LatencyMicros int64    `json:"latency_us,omitempty"`
	Revision      int64    `json:"revision,omitempty"`
}

func contentOf(r *Record) content {
	return content{r.Method, r.Event, r.Key, r.RangeEnd, r.Keys, r.Lease, r.Principal, r.Outcome, r.Error, r.LatencyMicros, r.Revision}
}

func (c content) empty() bool {
	return c.Method == "" && c.Event == "" && c.Key == "" && c.RangeEnd == "" && len(c.Keys) == 0 && c.Lease == 0 &&
		c.Principal == "" && c.Outcome == "" && c.Error == "" && c.LatencyMicros == 0 && c.Revision == 0
}

func (c content) setIn(r *Record) {
	r.Method, r.Event, r.Key, r.RangeEnd, r.Keys, r.Lease = c.Method, c.Event, c.Key, c.RangeEnd, c.Keys, c.Lease
	r.Principal, r.Outcome, r.Error, r.LatencyMicros, r.Revision = c.Principal, c.Outcome, c.Error, c.LatencyMicros, c.Revision
}

// sealedLine is the line of a sealed record, before its hash.
type sealedLine struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	KeyID  uint8     `json:"key_id"`
	Sealed []byte    `json:"sealed"`
	Prev   string    `json:"prev"`
}

// sealPlace binds a sealed record to its place in the chain: its seq and
// the previous record's hash. Moved to another record, it does not open.
func sealPlace(seq uint64, prev string) []byte {
	b := append([]byte("audit/"), strconv.FormatUint(seq, 10)...)
	return append(append(b, '/'), prev...)
}

// sealBody returns the body of r sealed under ring: r's Seq and Prev must
// be set.
func sealBody(r *Record, ring *gm.KeyRing) ([]byte, error) {
	plain, err := json.Marshal(contentOf(r))
	if err != nil {
		return nil, err
	}
	blob, err := ring.Seal(nil, plain, sealPlace(r.Seq, r.Prev))
	if err != nil {
		return nil, err
	}
	return json.Marshal(sealedLine{Seq: r.Seq, Time: r.Time, KeyID: ring.Active(), Sealed: blob, Prev: r.Prev})
}

// Unseal opens a sealed record read from a log (its Sealed field set) with
// ring and fills in the fields that were sealed; Sealed is then nil, KeyID
// is kept. A clear record is left as it is. It returns an error wrapping
// [ErrKeyMissing] when ring lacks the key (or is nil), [ErrTampered] when
// the sealed contents do not open (edited, moved from another record, or
// KeyID changed), or [ErrMalformed] when they open to something that is not
// a record's contents or the record also carries them in clear.
func Unseal(r *Record, ring *gm.KeyRing) error {
	if r.Sealed == nil {
		return nil
	}
	if !contentOf(r).empty() {
		return fmt.Errorf("%w: a sealed record also carries its contents in clear", ErrMalformed)
	}
	if ring == nil {
		return fmt.Errorf("%w: key %d (no keys given)", ErrKeyMissing, r.KeyID)
	}
	id, err := gm.SealedKeyID(r.Sealed)
	if err != nil {
		return fmt.Errorf("%w: sealed: %v", ErrMalformed, err)
	}
	if id != r.KeyID {
		return fmt.Errorf("%w: key_id %d, but the contents are sealed with key %d", ErrTampered, r.KeyID, id)
	}
	plain, err := ring.Open(nil, r.Sealed, sealPlace(r.Seq, r.Prev))
	switch {
	case errors.Is(err, gm.ErrUnknownKey):
		return fmt.Errorf("%w: key %d", ErrKeyMissing, id)
	case err != nil:
		return fmt.Errorf("%w: sealed contents do not open (edited, or sealed for another record)", ErrTampered)
	}
	var c content
	if err := json.Unmarshal(plain, &c); err != nil {
		return fmt.Errorf("%w: sealed contents: %v", ErrMalformed, err)
	}
	c.setIn(r)
	r.Sealed = nil
	return nil
}
