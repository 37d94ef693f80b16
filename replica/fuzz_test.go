package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/duohuo/duohuo/crdt"
)

// legacyLogEntry encodes a log entry as written before births: the key,
// then the delta.
func legacyLogEntry(key string, delta crdt.Object) []byte {
	b := binary.AppendUvarint(nil, uint64(len(key)))
	b, _ = delta.AppendBinary(append(b, key...))
	return b
}

func FuzzParseLogEntry(f *testing.F) {
	m := crdt.NewORMap()
	m.Put(1, crdt.MakeTimestamp(5, 0), "k", []byte("v"))
	var c crdt.PNCounter
	c.Add(2, -3)
	f.Add(appendLogEntry(nil, "kv", crdt.Stamp{Time: 7, Replica: 1}, m))
	f.Add(appendLogEntry(nil, "hits", crdt.Stamp{}, &c))
	f.Add(appendLogEntry(nil, "", crdt.Stamp{}, &c))
	f.Add(legacyLogEntry("kv", m)) // written before births
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		key, birth, o, err := parseLogEntry(b)
		if err != nil {
			if !errors.Is(err, errLogEntry) && !errors.Is(err, crdt.ErrMalformed) && !errors.Is(err, crdt.ErrTooLarge) &&
				!errors.Is(err, crdt.ErrVersion) && !errors.Is(err, crdt.ErrKind) {
				t.Fatalf("parseLogEntry error %v wraps no sentinel", err)
			}
			return
		}
		if validKey(key) != nil {
			t.Fatalf("parseLogEntry accepted the object name %q", key)
		}
		if re := appendLogEntry(nil, key, birth, o); !bytes.Equal(re, b) && !bytes.Equal(legacyLogEntry(key, o), b) {
			t.Fatalf("accepted entry does not re-encode to itself:\n  in  %x\n  out %x", b, re)
		}
	})
}

func FuzzParseMembers(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte{0})
	f.Add([]byte{2, 1, 'a', 3, 's', '-', '1'})
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := parseMembers(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("parseMembers error %v does not wrap errCorrupt", err)
			}
			return
		}
		if b == nil {
			return
		}
		if re := appendMembers(nil, names); !bytes.Equal(re, b) {
			// Non-minimal varints parse too; what matters is that the
			// names survive a round trip.
			again, err := parseMembers(re)
			if err != nil || len(again) != len(names) {
				t.Fatalf("members %q re-encode to %x, which parses to %q, %v", names, re, again, err)
			}
		}
	})
}

// memMetrics is shared by every memStore: unregistered, nothing reads it.
var memMetrics = newMetrics(nil, newWatermark())

// memStore returns a Store with no disk and no committer: enough for
// prepare, so that the fuzz test runs the HTTP API's real parsing and
// limit checks without an fsync per input.
func memStore() *Store {
	wm := newWatermark()
	objs := map[string]crdt.Object{}
	return &Store{
		cfg: Config{Name: "fuzz"}, clock: crdt.NewClock(nil, 0), replica: 7, wm: wm,
		metrics: memMetrics, objects: objs, digests: map[string][32]byte{}, sizes: map[string]int{},
		dirty: map[string]struct{}{}, watchers: map[*watcher]struct{}{}, ae: newAEContexts(objs),
		kinds: newKindTable(),
	}
}

// FuzzHTTPWrite sends the KV API a write made of fuzzed parts (method, op,
// object name, map key or member, increment, body), twice, and checks the
// contract of every write: refused with a 4xx and nothing changed, or
// accepted and every decoder takes what it left (the object's state, the
// delta as a log entry and as a replication message, the JSON view, which
// decodes back to the same keys).
func FuzzHTTPWrite(f *testing.F) {
	f.Add(uint8(0), "kv", "k", "", []byte("v"))
	f.Add(uint8(0), "kv", "\xff", "", []byte("\xc3\x28"))
	f.Add(uint8(1), "kv", "k", "", []byte(nil))
	f.Add(uint8(2), "hits", "", "9223372036854775807", []byte(nil))
	f.Add(uint8(2), "hits", "", "-9223372036854775808", []byte(nil))
	f.Add(uint8(3), "lanes", "base64:AA==", "", []byte(nil))
	f.Add(uint8(4), "lanes", "blue", "", []byte(nil))
	f.Add(uint8(5), "banner", "", "", []byte("hello"))
	f.Add(uint8(6), "", "k", "x", []byte("v"))
	f.Fuzz(func(t *testing.T, op uint8, object, key, by string, body []byte) {
		s := memStore()
		var last *commit
		h := &httpAPI{s: s, write: func(ctx context.Context, name string, fn func(*Txn) error) error {
			if err := validKey(name); err != nil {
				return err
			}
			c, err := s.prepare(name, fn)
			if c != nil {
				s.inflight.Done()
				last = c
			}
			return err
		}}
		handler := h.handler()
		var method string
		q := url.Values{}
		switch op % 7 {
		case 0:
			method = "PUT"
			q.Set("key", key)
		case 1:
			method = "DELETE"
			q.Set("key", key)
		case 2:
			method, q["op"], q["by"] = "POST", []string{"incr"}, []string{by}
		case 3:
			method, q["op"], q["member"] = "POST", []string{"sadd"}, []string{key}
		case 4:
			method, q["op"], q["member"] = "POST", []string{"srem"}, []string{key}
		case 5:
			method, q["op"] = "POST", []string{"set"}
		case 6:
			method, q["op"] = "POST", []string{by}
		}
		target := "/v1/kv/" + url.PathEscape(object) + "?" + q.Encode()
		for range 2 {
			before := s.Digest()
			last = nil
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, httptest.NewRequest(method, target, bytes.NewReader(body)))
			switch {
			case w.Code >= 500:
				t.Fatalf("%s %q = %d %s", method, target, w.Code, w.Body)
			case w.Code >= 400:
				if s.Digest() != before {
					t.Fatalf("%s %q refused with %d but changed the store", method, target, w.Code)
				}
				continue
			}
			if last == nil {
				continue // nothing to write (a delete of an absent key)
			}
			checkWrite(t, s, last.recs[0])
		}
	})
}

// checkWrite checks that every decoder accepts what the write left.
func checkWrite(t *testing.T, s *Store, r record) {
	t.Helper()
	obj := s.objects[r.key]
	enc, _ := obj.AppendBinary(nil)
	if len(enc) > MaxObjectLen {
		t.Fatalf("object %q of %d bytes accepted", r.key, len(enc))
	}
	if _, err := crdt.Decode(enc); err != nil {
		t.Fatalf("the state of %q after an accepted write does not decode: %v", r.key, err)
	}
	if _, _, _, err := parseLogEntry(appendLogEntry(nil, r.key, r.birth, r.delta)); err != nil {
		t.Fatalf("the log entry of an accepted write does not decode: %v", err)
	}
	for _, typ := range []msgType{msgDeltas, msgStates} {
		it := item{key: r.key, obj: r.delta}
		if typ == msgStates {
			it.obj = obj
		}
		m := &message{typ: typ, from: "fuzz", items: []item{it}}
		if _, err := decodeMessage(m.encode()); err != nil {
			t.Fatalf("the %s message of an accepted write does not decode: %v", msgNames[typ], err)
		}
	}
	b, err := json.Marshal(ToJSON(r.key, obj))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Object string
		Value  json.RawMessage
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	if name, err := ParseJSONString(j.Object); err != nil || string(name) != r.key {
		t.Fatalf("JSON object name %q decodes to %q, %v; want %q", j.Object, name, err, r.key)
	}
	if m, ok := obj.(*crdt.ORMap); ok {
		var vals map[string]string
		if err := json.Unmarshal(j.Value, &vals); err != nil || len(vals) != m.Len() {
			t.Fatalf("JSON view of a %d-key map has %d keys (%v)", m.Len(), len(vals), err)
		}
		for jk, jv := range vals {
			k, err1 := ParseJSONString(jk)
			v, err2 := ParseJSONString(jv)
			want, ok := m.Get(string(k))
			if err1 != nil || err2 != nil || !ok || !bytes.Equal(v, want) {
				t.Fatalf("JSON %q: %q decodes to %q = %q, want %q", jk, jv, k, v, want)
			}
		}
	}
}
