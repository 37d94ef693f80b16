package crdt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

// validMap is the encoding of a map with one key "k" = "v" written by
// replica 1 at 1ms: header, replica table, version vector, empty cloud,
// then the key with its dot, time and value.
func validMap() []byte {
	m := crdt.NewORMap()
	m.Put(1, crdt.MakeTimestamp(1, 0), "k", []byte("v"))
	b, _ := m.MarshalBinary()
	return b
}

func TestORMapEncodingLayout(t *testing.T) {
	want := []byte{
		1, 6, // version, kind ormap
		1, 1, // one replica id: 1
		1, 0, 1, // version vector: index 0 -> 1
		0,         // no cloud
		1, 1, 'k', // one key "k"
		1, 0, 1, // one dot: index 0, counter 1
		0, 0, 0, 0, 0, 1, 0, 0, // time 1ms, logical 0
		1, 'v',
	}
	if got := validMap(); !bytes.Equal(got, want) {
		t.Errorf("MarshalBinary() =\n  %v\nwant\n  %v", got, want)
	}
}

func edit(b []byte, at int, repl ...byte) []byte {
	out := append([]byte{}, b[:at]...)
	out = append(out, repl...)
	return append(out, b[at+1:]...)
}

func TestDecodeRejects(t *testing.T) {
	m := validMap()
	huge := binary.AppendUvarint(nil, crdt.MaxValueLen+1)
	twoKeys := func(first, second string) []byte {
		x := crdt.NewORMap()
		x.Put(1, 1, first, nil)
		x.Put(1, 2, second, nil)
		b, _ := x.MarshalBinary()
		// Swap the keys in place: same length, so the layout still parses.
		b = bytes.Replace(b, []byte(first), []byte("\xff"), 1)
		b = bytes.Replace(b, []byte(second), []byte(first), 1)
		return bytes.Replace(b, []byte("\xff"), []byte(second), 1)
	}
	var gz crdt.GCounter
	gz.Add(5, 1)
	gzb, _ := gz.MarshalBinary()
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty input", nil, crdt.ErrMalformed},
		{"a one-byte header", []byte{1}, crdt.ErrMalformed},
		{"an unknown format version", edit(m, 0, 2), crdt.ErrVersion},
		{"an unknown kind", edit(m, 1, 99), crdt.ErrKind},
		{"truncated input", m[:len(m)-1], crdt.ErrMalformed},
		{"trailing bytes", append(validMap(), 0), crdt.ErrMalformed},
		{"a non-minimal varint", edit(m, 2, 0x81, 0x00), crdt.ErrMalformed},
		{"a count larger than the input", edit(m, 2, 0x80, 0x80, 0x80, 0x80, 0x10), crdt.ErrMalformed},
		{"a zero replica id", edit(m, 3, 0), crdt.ErrMalformed},
		{"a replica index out of range", edit(m, 5, 1), crdt.ErrMalformed},
		{"a zero version vector counter", edit(m, 6, 0), crdt.ErrMalformed},
		{"a dot not covered by the context", edit(m, 13, 2), crdt.ErrMalformed},
		{"a key with no dots", edit(m, 11, 0), crdt.ErrMalformed},
		{"a value over the size limit", append(edit(m, len(m)-2, huge...)[:len(m)-2+len(huge)], 'v'), crdt.ErrTooLarge},
		{"keys out of order", twoKeys("a", "b"), crdt.ErrMalformed},
		{"a gcounter with a zero count", edit(gzb, 4, 0), crdt.ErrMalformed},
		{"input over MaxEncodedLen", append([]byte{1, 6}, make([]byte, crdt.MaxEncodedLen)...), crdt.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := crdt.Decode(tt.input)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%.40x) error = %v, want %v", tt.input, err, tt.want)
			}
			if errors.Is(err, crdt.ErrMalformed) && len(tt.input) >= 2 && !strings.Contains(err.Error(), "at byte") {
				t.Errorf("error %q does not name the byte at fault", err)
			}
		})
	}
}

func TestUnmarshalRefusesAnotherKind(t *testing.T) {
	var g crdt.GCounter
	if err := g.UnmarshalBinary(validMap()); !errors.Is(err, crdt.ErrKind) {
		t.Errorf("GCounter.UnmarshalBinary(ormap) error = %v, want ErrKind", err)
	}
}

func TestDecodedStateDoesNotAliasInput(t *testing.T) {
	b := validMap()
	o, err := crdt.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	if v, _ := o.(*crdt.ORMap).Get("k"); string(v) != "v" {
		t.Errorf("Get(k) after the input buffer was cleared = %q, want %q", v, "v")
	}
}

func TestMergeRefusesMixedKinds(t *testing.T) {
	if err := crdt.Merge(crdt.NewORMap(), crdt.NewORSet()); !errors.Is(err, crdt.ErrKind) {
		t.Errorf("Merge(ormap, orset) error = %v, want ErrKind", err)
	}
	if _, err := crdt.New(0); !errors.Is(err, crdt.ErrKind) {
		t.Errorf("New(0) error = %v, want ErrKind", err)
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range allKinds {
		got, err := crdt.ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	if _, err := crdt.ParseKind("hyperloglog"); !errors.Is(err, crdt.ErrKind) {
		t.Errorf("ParseKind(hyperloglog) error = %v, want ErrKind", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(validMap())
	for _, k := range allKinds {
		for _, p := range lawSeeds {
			h := newHistory(k, 3)
			h.run(p)
			for _, r := range h.replicas {
				b, _ := r.AppendBinary(nil)
				f.Add(b)
			}
		}
	}
	for _, p := range compactSeeds {
		h, stable, _ := stableHistory(p[0], p[1])
		for _, r := range h.replicas {
			r.(*crdt.LWWSet).Compact(stable)
			b, _ := r.AppendBinary(nil)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := crdt.Decode(b)
		if err != nil {
			if !errors.Is(err, crdt.ErrMalformed) && !errors.Is(err, crdt.ErrTooLarge) && !errors.Is(err, crdt.ErrVersion) && !errors.Is(err, crdt.ErrKind) {
				t.Fatalf("Decode error %v wraps no sentinel", err)
			}
			return
		}
		re, _ := o.AppendBinary(nil)
		if !bytes.Equal(re, b) {
			t.Fatalf("accepted input is not canonical:\n  in  %x\n  out %x", b, re)
		}
		// A decoded state, even an unreachable one, must merge without
		// panicking, and merging it into itself changes nothing.
		c := crdt.Clone(o)
		if err := crdt.Merge(c, o); err != nil || c.Digest() != o.Digest() {
			t.Fatalf("merging a decoded state into its copy: err %v, changed %v", err, c.Digest() != o.Digest())
		}
		empty, _ := crdt.New(o.Kind())
		if err := crdt.Merge(empty, o); err != nil || empty.Digest() != o.Digest() {
			t.Fatalf("merging a decoded state into an empty one: err %v, changed %v", err, empty.Digest() != o.Digest())
		}
	})
}
