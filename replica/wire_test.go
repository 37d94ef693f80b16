package replica

import (
	"bytes"
	"errors"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

func sampleMessages() []*message {
	m := crdt.NewORMap()
	m.Put(1, crdt.MakeTimestamp(5, 0), "k", []byte("v"))
	var c crdt.PNCounter
	c.Add(2, -3)
	born := crdt.Stamp{Time: crdt.MakeTimestamp(4, 3), Replica: 1}
	return []*message{
		{typ: msgDeltas, from: "site-a", clock: crdt.MakeTimestamp(6, 0), items: []item{{key: "kv", time: crdt.MakeTimestamp(5, 1), birth: born, obj: m}, {key: "hits", time: 7, obj: &c}}},
		{typ: msgStates, from: "site-b", clock: 9, items: []item{{key: "kv", birth: born, obj: m}}},
		{typ: msgSummaryAsk, from: "site-c", buckets: 1<<bucketOf("kv") | 1<<bucketOf("hits"), items: []item{{key: "kv", digest: m.Digest(), kind: crdt.KindORMap, birth: born, ctx: m.Context()}, {key: "hits", kind: crdt.KindPNCounter, digest: c.Digest()}}},
		{typ: msgSummaryAnswer, from: "site-c", buckets: 1 << 63},
		{typ: msgAck, from: "site-d", clock: 10, ack: ack{snapshot: crdt.MakeTimestamp(9, 2), seen: crdt.MakeTimestamp(8, 0), digest: m.Digest()}},
		{typ: msgBuckets, from: "site-e", digests: [numBuckets][16]byte{3: {1, 2, 3}, 63: {9}}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		enc := m.encode()
		got, err := decodeMessage(enc)
		if err != nil {
			t.Fatalf("decodeMessage(encode(%v message)) = %v", msgNames[m.typ], err)
		}
		if !bytes.Equal(got.encode(), enc) || got.from != m.from || got.clock != m.clock || len(got.items) != len(m.items) || got.ack != m.ack || got.buckets != m.buckets || got.digests != m.digests {
			t.Errorf("%v message changed in a round trip", msgNames[m.typ])
		}
		for i := range got.items {
			if g, w := got.items[i], m.items[i]; g.birth != w.birth || g.kind != w.kind || g.time != w.time {
				t.Errorf("%v message item %d: birth %v kind %v time %v after a round trip, want %v %v %v", msgNames[m.typ], i, g.birth, g.kind, g.time, w.birth, w.kind, w.time)
			}
		}
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	good := sampleMessages()[0].encode()
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"another wire version", append([]byte{9}, good[1:]...)},
		{"an unknown type", append([]byte{wireVersion, 99}, good[2:]...)},
		{"truncated", good[:len(good)-3]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"an item count beyond the input", []byte{wireVersion, byte(msgDeltas), 0, 0xff, 0xff, 0x03}},
		{"an empty key", []byte{wireVersion, byte(msgSummaryAsk), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}},
		{"a truncated digest", []byte{wireVersion, byte(msgSummaryAsk), 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 'k', 1, 2, 3}},
		{"a summary without its bucket bitmap", []byte{wireVersion, byte(msgSummaryAsk), 0, 0, 0}},
		{"buckets: another count", append([]byte{wireVersion, byte(msgBuckets), 0, 32}, make([]byte, 32*16)...)},
		{"buckets: truncated", sampleMessages()[5].encode()[:100]},
		{"buckets: trailing bytes", append(sampleMessages()[5].encode(), 0)},
		{"a summary without its context length", sampleMessages()[2].encode()[:len(sampleMessages()[2].encode())-1]},
		{"a malformed context", append(append([]byte{wireVersion, byte(msgSummaryAsk), 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 'k'}, make([]byte, 32)...), 2, crdt.FormatVersion, 1)},
		{"a truncated ack", sampleMessages()[4].encode()[:30]},
		{"an ack with trailing bytes", append(sampleMessages()[4].encode(), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMessage(tt.in); !errors.Is(err, errWire) {
				t.Errorf("decodeMessage(%x) error = %v, want errWire", tt.in, err)
			}
		})
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			if !errors.Is(err, errWire) {
				t.Fatalf("error %v does not wrap errWire", err)
			}
			return
		}
		if _, err := decodeMessage(m.encode()); err != nil {
			t.Fatalf("re-encoding an accepted message gives one that is refused: %v", err)
		}
	})
}
