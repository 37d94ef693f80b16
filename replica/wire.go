package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/duohuo/duohuo/crdt"
)

// Replication messages, sent as memberlist user messages:
//
//	byte     wire version (3)
//	byte     type
//	string   sender's site name
//	8 bytes  the sender's hybrid time when it made the message
//	8 bytes  summaries only: the buckets the summary covers, a bitmap
//	uvarint  item count, then per item:
//	  deltas:  string key, 8-byte origin hybrid time, 16-byte birth,
//	           bytes encoded delta
//	  summary: string key, 32-byte state digest, byte kind, 16-byte birth,
//	           bytes encoded causal context of an ORSet or ORMap (empty
//	           for other kinds)
//	  states:  string key, 16-byte birth, bytes encoded state
//
// except a buckets message, which after the sender's time holds a uvarint
// count (numBuckets) and that many 16-byte bucket digests; and an ack,
// which has no items: after the sender's time it holds the
// 8-byte hybrid time of the sender's snapshot, the 8-byte time up to which
// the sender has seen every write (its acknowledgement), and the 32-byte
// digest of the sender's LWW-element-set objects at that snapshot.
//
// Strings and bytes are a uvarint length and the bytes; a birth is the
// object's creation stamp (kinds.go): 8-byte hybrid time, 8-byte replica
// id. Version 2 added the causal context to summary items, the buckets
// message and the bitmap; version 3 the births, the summary's kind and the
// sender's time (what the receiver bounds and measures clock offsets by,
// see clock.go).
const wireVersion = 3

type msgType byte

const (
	msgDeltas        msgType = 1 // deltas of local writes, sent once to every member
	msgSummaryAsk    msgType = 2 // anti-entropy: my digests; send me what differs and your digests if I am missing things
	msgSummaryAnswer msgType = 3 // anti-entropy: my digests; send me what differs
	msgStates        msgType = 4 // full states that differ
	msgAck           msgType = 5 // garbage collection: my snapshot and what I have seen
	msgBuckets       msgType = 6 // anti-entropy: my bucket digests; ask me about the buckets that differ
)

var msgNames = map[msgType]string{msgDeltas: "delta", msgSummaryAsk: "summary", msgSummaryAnswer: "summary", msgStates: "state", msgAck: "ack", msgBuckets: "buckets"}

// errWire marks a malformed replication message.
var errWire = errors.New("replica: malformed message")

// maxWireItems bounds the items of one message.
const maxWireItems = 1 << 20

// item is one entry of a message: key and, by type, a delta with its
// origin time, a digest, or a state.
type item struct {
	key    string
	time   crdt.Timestamp
	birth  crdt.Stamp // deltas, states and summaries: the object's birth
	kind   crdt.Kind  // summaries: the object's kind
	digest [32]byte
	ctx    *crdt.CausalContext // summaries: the object's context, if it has one
	obj    crdt.Object
	size   int // decoded deltas and states: the encoded object's length
}

type message struct {
	typ     msgType
	from    string
	clock   crdt.Timestamp // the sender's hybrid time when it made the message
	items   []item
	buckets uint64               // summaries: the buckets covered (bit i: bucket i)
	digests [numBuckets][16]byte // msgBuckets only
	ack     ack                  // msgAck only
}

// ack is what a site tells every other one, each anti-entropy interval, for
// garbage collection (see stability.go).
type ack struct {
	snapshot crdt.Timestamp // hybrid time of the snapshot digested
	seen     crdt.Timestamp // every write stamped up to it is in the sender's state
	digest   [32]byte       // of the sender's LWW-element-set objects at snapshot
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBytesField appends p as a bytes field: its uvarint length, then p.
func appendBytesField(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func (m *message) appendHeader(b []byte) []byte {
	b = append(b, wireVersion, byte(m.typ))
	b = appendStr(b, m.from)
	b = binary.BigEndian.AppendUint64(b, uint64(m.clock))
	if m.typ == msgSummaryAsk || m.typ == msgSummaryAnswer {
		b = binary.BigEndian.AppendUint64(b, m.buckets)
	}
	return binary.AppendUvarint(b, uint64(len(m.items)))
}

func appendItem(b []byte, typ msgType, it item) []byte {
	b = appendStr(b, it.key)
	switch typ {
	case msgDeltas:
		b = binary.BigEndian.AppendUint64(b, uint64(it.time))
		fallthrough
	case msgStates:
		b = appendStamp(b, it.birth)
		enc, _ := it.obj.AppendBinary(nil)
		b = appendBytesField(b, enc)
	case msgSummaryAsk, msgSummaryAnswer:
		b = append(b, it.digest[:]...)
		b = append(b, byte(it.kind))
		b = appendStamp(b, it.birth)
		var enc []byte
		if it.ctx != nil {
			enc, _ = it.ctx.AppendBinary(nil)
		}
		b = appendBytesField(b, enc)
	}
	return b
}

func (m *message) encode() []byte {
	if m.typ == msgAck {
		b := []byte{wireVersion, byte(m.typ)}
		b = appendStr(b, m.from)
		b = binary.BigEndian.AppendUint64(b, uint64(m.clock))
		b = binary.BigEndian.AppendUint64(b, uint64(m.ack.snapshot))
		b = binary.BigEndian.AppendUint64(b, uint64(m.ack.seen))
		return append(b, m.ack.digest[:]...)
	}
	if m.typ == msgBuckets {
		b := []byte{wireVersion, byte(m.typ)}
		b = appendStr(b, m.from)
		b = binary.BigEndian.AppendUint64(b, uint64(m.clock))
		b = binary.AppendUvarint(b, numBuckets)
		for _, d := range m.digests {
			b = append(b, d[:]...)
		}
		return b
	}
	b := m.appendHeader(nil)
	for _, it := range m.items {
		b = appendItem(b, m.typ, it)
	}
	return b
}

// decodeMessage parses a message. It never panics, and allocates in
// proportion to the input.
func decodeMessage(b []byte) (*message, error) {
	r := wireReader{b: b}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes, want a 2-byte header", errWire, len(b))
	}
	if b[0] != wireVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errWire, b[0], wireVersion)
	}
	m := &message{typ: msgType(b[1])}
	if _, ok := msgNames[m.typ]; !ok {
		return nil, fmt.Errorf("%w: unknown type %d", errWire, b[1])
	}
	r.off = 2
	m.from = string(r.bytes("sender"))
	m.clock = crdt.Timestamp(r.fixed64("sender time"))
	if m.typ == msgAck {
		m.ack.snapshot = crdt.Timestamp(r.fixed64("ack snapshot time"))
		m.ack.seen = crdt.Timestamp(r.fixed64("ack seen time"))
		copy(m.ack.digest[:], r.raw(32, "ack digest"))
		return r.done(m)
	}
	if m.typ == msgBuckets {
		if n := r.uvarint("bucket count"); r.err == nil && n != numBuckets {
			r.failf("%d buckets, want %d", n, numBuckets)
		}
		for i := range m.digests {
			copy(m.digests[i][:], r.raw(16, "bucket digest"))
		}
		return r.done(m)
	}
	if m.typ == msgSummaryAsk || m.typ == msgSummaryAnswer {
		m.buckets = r.fixed64("bucket bitmap")
	}
	n := r.uvarint("item count")
	if r.err == nil && (n > maxWireItems || n > uint64(len(b)-r.off)) {
		r.failf("item count %d exceeds input", n)
	}
	for i := uint64(0); r.err == nil && i < n; i++ {
		it := item{key: string(r.bytes("key"))}
		if r.err == nil && (it.key == "" || len(it.key) > MaxNameLen) {
			r.failf("item %d: object name of %d bytes, want 1 to %d", i, len(it.key), MaxNameLen)
		}
		switch m.typ {
		case msgDeltas, msgStates:
			if m.typ == msgDeltas {
				it.time = crdt.Timestamp(r.fixed64("origin time"))
			}
			it.birth = r.stamp("birth")
			enc := r.bytes("object")
			if r.err == nil {
				o, err := crdt.Decode(enc)
				if err != nil {
					return nil, fmt.Errorf("%w: item %d (%q): %w", errWire, i, it.key, err)
				}
				it.obj, it.size = o, len(enc)
			}
		default:
			copy(it.digest[:], r.raw(32, "item digest"))
			if k := r.raw(1, "kind"); k != nil {
				it.kind = crdt.Kind(k[0])
			}
			it.birth = r.stamp("birth")
			if enc := r.bytes("causal context"); r.err == nil && len(enc) > 0 {
				it.ctx = new(crdt.CausalContext)
				if err := it.ctx.UnmarshalBinary(enc); err != nil {
					return nil, fmt.Errorf("%w: item %d (%q): %w", errWire, i, it.key, err)
				}
			}
		}
		m.items = append(m.items, it)
	}
	return r.done(m)
}

type wireReader struct {
	b   []byte
	off int
	err error
}

func (r *wireReader) failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w at byte %d: %s", errWire, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *wireReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.failf("%s: bad varint", what)
		return 0
	}
	r.off += n
	return v
}

func (r *wireReader) fixed64(what string) uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.failf("%s: truncated", what)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// stamp reads a birth.
func (r *wireReader) stamp(what string) crdt.Stamp {
	t := r.fixed64(what + " time")
	id := r.fixed64(what + " replica")
	return crdt.Stamp{Time: crdt.Timestamp(t), Replica: crdt.ReplicaID(id)}
}

// raw reads n bytes; nil after an error.
func (r *wireReader) raw(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b)-r.off < n {
		r.failf("%s: truncated", what)
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

// done returns m, or the first error, or one for bytes left over.
func (r *wireReader) done(m *message) (*message, error) {
	if r.err == nil && r.off != len(r.b) {
		r.failf("%d trailing bytes", len(r.b)-r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

func (r *wireReader) bytes(what string) []byte {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.failf("%s: length %d exceeds input", what, n)
		return nil
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v
}
