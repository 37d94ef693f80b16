package toxiapi

import (
	"encoding/json"
	"testing"

	"github.com/duohuo/duohuo/fault/tcpproxy"
)

// seeds are bodies from the tests and Toxiproxy's documentation.
var seeds = []string{
	`{"name":"redis","listen":"127.0.0.1:0","upstream":"127.0.0.1:6379","enabled":true}`,
	`[{"name":"a","listen":"localhost:0","upstream":"localhost:1"},{"name":"b","upstream":"x:2","enabled":false}]`,
	`{"type":"latency","stream":"upstream","toxicity":0.5,"attributes":{"latency":100,"jitter":10}}`,
	`{"type":"bandwidth","attributes":{"rate":100}}`,
	`{"type":"slicer","attributes":{"average_size":64,"size_variation":32,"delay":10}}`,
	`{"name":"t","type":"timeout","attributes":{"timeout":-1}}`,
	`{"type":"limit_data","attributes":{"bytes":1e30}}`,
	`{"type":"reset_peer","stream":"DOWNSTREAM","attributes":null}`,
	`{"type":"slow_close","attributes":{"delay":9223372036854775807}}`,
	`{"type":"latency","attributes":{"latency":8640000000,"jitter":8640000000}}`,
	`{"type":"slicer","attributes":{"average_size":9223372036854775807,"size_variation":9223372036854775807}}`,
	`{"toxicity":-1,"attributes":{"latency":5}}`,
	`{"name":`, `[]`, `null`, ``,
}

// FuzzDecode feeds arbitrary bodies to every decoder of the API: none may
// panic, every error is a client error (4xx), and a toxic that decodes maps
// onto tcpproxy and encodes back to JSON that decodes to the same toxic.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, e *Error) {
			if e != nil && (e.Status < 400 || e.Status >= 500 || e.Message == "") {
				t.Fatalf("%s(%q): error %+v, want a 4xx with a message", what, body, e)
			}
		}
		_, e := decodeProxy(body)
		check("decodeProxy", e)

		s := New(Config{})
		// Only bodies that decode to nothing to start reach populate's
		// start: a fuzzer must not open ports.
		var in []proxyInput
		if json.Unmarshal(body, &in) != nil || len(in) == 0 {
			_, e = s.populate(body)
			check("populate", e)
		}

		tx, e := decodeToxic(body)
		check("decodeToxic", e)
		if e != nil {
			return
		}
		if n, ok := tx.named(); ok {
			// What is set on the proxy must be a valid tcpproxy toxic:
			// ParseToxic validates what FormatToxic writes.
			if _, err := tcpproxy.ParseToxic(tcpproxy.FormatToxic(n)); err != nil {
				t.Fatalf("decodeToxic(%q) maps to an invalid tcpproxy toxic: %v", body, err)
			}
		}
		out, err := json.Marshal(tx.view())
		if err != nil {
			t.Fatalf("encode %+v: %v", tx, err)
		}
		again, e := decodeToxic(out)
		if e != nil {
			t.Fatalf("decodeToxic(encode(decodeToxic(%q)) = %s): %v", body, out, e)
		}
		if a, b := mustJSON(t, again.view()), string(out); a != b {
			t.Fatalf("round trip of %q: %s, then %s", body, b, a)
		}
		upd, e := decodeToxicUpdate(tx, body)
		check("decodeToxicUpdate", e)
		if e == nil && (upd.name != tx.name || upd.typ != tx.typ || upd.dir != tx.dir) {
			t.Fatalf("decodeToxicUpdate(%q) changed identity: %+v → %+v", body, tx, upd)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
