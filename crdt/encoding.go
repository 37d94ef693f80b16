package crdt

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// FormatVersion is the version byte that starts every encoded state or
// delta. A decoder refuses versions it does not know with [ErrVersion].
const FormatVersion = 1

// Limits on what a decoder accepts. They bound the memory one message can
// make a replica allocate.
const (
	MaxEncodedLen = 64 << 20 // bytes in one encoded state or delta
	MaxKeyLen     = 64 << 10 // bytes in one key or set element
	MaxValueLen   = 16 << 20 // bytes in one register or map value
)

// Kind says which type an encoded state holds; it is the second byte of the
// encoding.
type Kind uint8

// The kinds of CRDT. Their numbers are part of the encoding: never reuse one.
const (
	KindGCounter    Kind = 1
	KindPNCounter   Kind = 2
	KindLWWRegister Kind = 3
	KindLWWSet      Kind = 4
	KindORSet       Kind = 5
	KindORMap       Kind = 6
)

var kindNames = map[Kind]string{
	KindGCounter:    "gcounter",
	KindPNCounter:   "pncounter",
	KindLWWRegister: "lwwregister",
	KindLWWSet:      "lwwset",
	KindORSet:       "orset",
	KindORMap:       "ormap",
}

// String returns the kind's lower-case name, for example "ormap".
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	if k == kindContext {
		return "causal context"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the Kind named s (as printed by [Kind.String]).
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("crdt: unknown kind %q: %w", s, ErrKind)
}

// Errors returned by decoders and by [Merge]; decoding errors wrap one of
// them and name the byte offset and field at fault.
var (
	ErrMalformed = errors.New("crdt: malformed encoding")
	ErrTooLarge  = errors.New("crdt: encoding exceeds limit")
	ErrVersion   = errors.New("crdt: unsupported format version")
	ErrKind      = errors.New("crdt: unknown or mismatched kind")
	// ErrOverflow: a counter addition refused by [PNCounter.TryAdd].
	ErrOverflow = errors.New("crdt: counter overflow")
)

// Object is any of this package's CRDT types: [*GCounter], [*PNCounter],
// [*LWWRegister], [*LWWSet], [*ORSet], [*ORMap]. It lets a store hold named
// objects of mixed types; the concrete types have the typed methods.
type Object interface {
	// Kind returns the object's type.
	Kind() Kind
	// AppendBinary appends the canonical encoding: equal states encode to
	// equal bytes. The error is always nil.
	AppendBinary(b []byte) ([]byte, error)
	// Digest returns the SHA-256 of the canonical encoding, what replicas
	// compare to know they have converged.
	Digest() [32]byte
	isObject()
}

// New returns an empty object of kind k.
func New(k Kind) (Object, error) {
	switch k {
	case KindGCounter:
		return new(GCounter), nil
	case KindPNCounter:
		return new(PNCounter), nil
	case KindLWWRegister:
		return new(LWWRegister), nil
	case KindLWWSet:
		return new(LWWSet), nil
	case KindORSet:
		return NewORSet(), nil
	case KindORMap:
		return NewORMap(), nil
	}
	return nil, fmt.Errorf("crdt: new %v: %w", k, ErrKind)
}

// Decode decodes a state or delta of any kind. It never panics; bad input
// gives an error wrapping [ErrMalformed], [ErrTooLarge], [ErrVersion] or
// [ErrKind]. Accepted input is canonical: re-encoding gives the same bytes.
func Decode(b []byte) (Object, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("crdt: decode: %d bytes, want a 2-byte header: %w", len(b), ErrMalformed)
	}
	o, err := New(Kind(b[1]))
	if err != nil {
		return nil, fmt.Errorf("crdt: decode: header byte 1: %w", err)
	}
	if err := o.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return o, nil
}

// Merge joins src into dst, which must be of the same kind (else
// [ErrKind]). src is not modified.
func Merge(dst, src Object) error {
	switch d := dst.(type) {
	case *GCounter:
		if s, ok := src.(*GCounter); ok {
			d.Merge(s)
			return nil
		}
	case *PNCounter:
		if s, ok := src.(*PNCounter); ok {
			d.Merge(s)
			return nil
		}
	case *LWWRegister:
		if s, ok := src.(*LWWRegister); ok {
			d.Merge(s)
			return nil
		}
	case *LWWSet:
		if s, ok := src.(*LWWSet); ok {
			d.Merge(s)
			return nil
		}
	case *ORSet:
		if s, ok := src.(*ORSet); ok {
			d.Merge(s)
			return nil
		}
	case *ORMap:
		if s, ok := src.(*ORMap); ok {
			d.Merge(s)
			return nil
		}
	}
	return fmt.Errorf("crdt: merge %v into %v: %w", src.Kind(), dst.Kind(), ErrKind)
}

// Clone returns a deep copy of o.
func Clone(o Object) Object {
	switch v := o.(type) {
	case *GCounter:
		return v.Clone()
	case *PNCounter:
		return v.Clone()
	case *LWWRegister:
		return v.Clone()
	case *LWWSet:
		return v.Clone()
	case *ORSet:
		return v.Clone()
	case *ORMap:
		return v.Clone()
	}
	panic(fmt.Sprintf("crdt: Clone of foreign type %T", o)) // unreachable: Object is sealed
}

func digest(o Object) [32]byte {
	b, _ := o.AppendBinary(make([]byte, 0, 256))
	return sha256.Sum256(b)
}

func appendHeader(b []byte, k Kind) []byte { return append(b, FormatVersion, byte(k)) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStamp(b []byte, s Stamp) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(s.Time))
	return binary.AppendUvarint(b, uint64(s.Replica))
}

// decoder reads an encoding and remembers the first error, so that callers
// check once at the end. Every read is bounded by the remaining input.
type decoder struct {
	kind Kind
	b    []byte
	off  int
	err  error
}

func newDecoder(b []byte, k Kind) *decoder {
	d := &decoder{kind: k, b: b}
	switch {
	case len(b) > MaxEncodedLen:
		d.err = fmt.Errorf("crdt: decode %v: %d bytes, limit %d: %w", k, len(b), MaxEncodedLen, ErrTooLarge)
	case len(b) < 2:
		d.fail("header", ErrMalformed)
	case b[0] != FormatVersion:
		d.err = fmt.Errorf("crdt: decode %v: format version %d, want %d: %w", k, b[0], FormatVersion, ErrVersion)
	case Kind(b[1]) != k:
		d.err = fmt.Errorf("crdt: decode %v: encoding holds %v: %w", k, Kind(b[1]), ErrKind)
	}
	d.off = 2
	return d
}

func (d *decoder) fail(what string, sentinel error) {
	if d.err == nil {
		d.err = fmt.Errorf("crdt: decode %v at byte %d: %s: %w", d.kind, d.off, what, sentinel)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(what+": bad varint", ErrMalformed)
		return 0
	}
	// Canonical: the shortest form only, so that bytes identify states.
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail(what+": non-minimal varint", ErrMalformed)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) fixed64(what string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail(what+": truncated", ErrMalformed)
		return 0
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// count reads an element count and checks it against the bytes left, each
// element taking at least minSize bytes, so no count can make us allocate
// more than the input justifies.
func (d *decoder) count(what string, minSize int) int {
	n := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if n > uint64((len(d.b)-d.off)/minSize) {
		d.fail(fmt.Sprintf("%s: count %d exceeds remaining input", what, n), ErrMalformed)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(what string, limit int) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.fail(fmt.Sprintf("%s: length %d exceeds limit %d", what, n, limit), ErrTooLarge)
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail(what+": truncated", ErrMalformed)
		return nil
	}
	v := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) stamp(what string) Stamp {
	return Stamp{Time: Timestamp(d.fixed64(what + " time")), Replica: ReplicaID(d.uvarint(what + " replica"))}
}

func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)-d.off), ErrMalformed)
	}
	return d.err
}

// replicaTable is the dictionary of replica ids written once at the start of
// an [ORSet] or [ORMap] so that each dot costs a one-byte index rather than
// a ten-byte id.
type replicaTable struct {
	ids []ReplicaID
	pos map[ReplicaID]uint64
}

func newReplicaTable(c *CausalContext) *replicaTable {
	t := &replicaTable{pos: make(map[ReplicaID]uint64)}
	for r := range c.vv {
		t.ids = append(t.ids, r)
	}
	for d := range c.cloud {
		if _, ok := c.vv[d.Replica]; !ok && !slices.Contains(t.ids, d.Replica) {
			t.ids = append(t.ids, d.Replica)
		}
	}
	slices.Sort(t.ids)
	for i, r := range t.ids {
		t.pos[r] = uint64(i)
	}
	return t
}

func (t *replicaTable) appendDot(b []byte, d Dot) []byte {
	b = binary.AppendUvarint(b, t.pos[d.Replica])
	return binary.AppendUvarint(b, d.Counter)
}

// appendContext writes the table and then the context: the vector sorted by
// replica, then the cloud sorted by dot.
func (t *replicaTable) appendContext(b []byte, c *CausalContext) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.ids)))
	for _, r := range t.ids {
		b = binary.AppendUvarint(b, uint64(r))
	}
	b = binary.AppendUvarint(b, uint64(len(c.vv)))
	for _, r := range t.ids {
		if n, ok := c.vv[r]; ok {
			b = binary.AppendUvarint(b, t.pos[r])
			b = binary.AppendUvarint(b, n)
		}
	}
	cloud := c.Cloud()
	b = binary.AppendUvarint(b, uint64(len(cloud)))
	for _, d := range cloud {
		b = t.appendDot(b, d)
	}
	return b
}

// decodeContext reads what appendContext wrote, checking every canonical
// property: ids strictly increasing and non-zero and all used, vector
// counters non-zero, cloud dots strictly increasing and not compactible.
func (d *decoder) decodeContext() ([]ReplicaID, CausalContext) {
	var c CausalContext
	ids := make([]ReplicaID, d.count("replica count", 1))
	for i := range ids {
		ids[i] = ReplicaID(d.uvarint("replica id"))
		if d.err == nil && (ids[i] == 0 || i > 0 && ids[i] <= ids[i-1]) {
			d.fail("replica ids not strictly increasing and non-zero", ErrMalformed)
		}
	}
	used := make([]bool, len(ids))
	replica := func(what string) ReplicaID {
		i := d.uvarint(what)
		if d.err != nil {
			return 0
		}
		if i >= uint64(len(ids)) {
			d.fail(fmt.Sprintf("%s: replica index %d out of range", what, i), ErrMalformed)
			return 0
		}
		used[i] = true
		return ids[i]
	}
	nvv := d.count("version vector length", 2)
	last := -1
	for range nvv {
		at := d.off
		r := replica("version vector replica")
		n := d.uvarint("version vector counter")
		if d.err != nil {
			break
		}
		idx := slices.Index(ids, r)
		if idx <= last || n == 0 {
			d.off = at
			d.fail("version vector entries not strictly increasing with non-zero counters", ErrMalformed)
			break
		}
		last = idx
		if c.vv == nil {
			c.vv = make(VersionVector, nvv)
		}
		c.vv[r] = n
	}
	ncloud := d.count("dot cloud length", 2)
	var prev Dot
	for i := range ncloud {
		at := d.off
		dt := Dot{replica("cloud dot replica"), d.uvarint("cloud dot counter")}
		if d.err != nil {
			break
		}
		if i > 0 && dt.Compare(prev) <= 0 || dt.Counter <= c.vv[dt.Replica]+1 {
			d.off = at
			d.fail("dot cloud not strictly increasing or not compacted", ErrMalformed)
			break
		}
		prev = dt
		if c.cloud == nil {
			c.cloud = make(map[Dot]struct{}, ncloud)
		}
		c.cloud[dt] = struct{}{}
	}
	if d.err == nil && slices.Contains(used, false) {
		d.fail("replica table lists an unused id", ErrMalformed)
	}
	return ids, c
}

// dot reads a dot by table index.
func (d *decoder) dot(ids []ReplicaID, what string) Dot {
	i := d.uvarint(what + " replica")
	n := d.uvarint(what + " counter")
	if d.err != nil {
		return Dot{}
	}
	if i >= uint64(len(ids)) {
		d.fail(fmt.Sprintf("%s: replica index %d out of range", what, i), ErrMalformed)
		return Dot{}
	}
	if n == 0 {
		d.fail(what+": counter 0 (counters start at 1)", ErrMalformed)
		return Dot{}
	}
	return Dot{ids[i], n}
}
