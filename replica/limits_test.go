package replica_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/duohuo/duohuo/crdt"
	"github.com/duohuo/duohuo/replica"
)

// limitCase is one write over a limit, by the Go API and by HTTP.
type limitCase struct {
	name  string
	limit int // the LimitError's Limit; 0 for errors that are no LimitError
	want  error
	// setup runs first and must succeed (through the Go API).
	setup func(tx *replica.Txn)
	obj   string
	write func(tx *replica.Txn)
	// method, query and body of the same write through HTTP; the path is
	// /v1/kv/ + obj.
	method string
	query  url.Values
	body   []byte
	code   int
}

func limitCases() []limitCase {
	long := strings.Repeat("k", 70000)
	big := make([]byte, replica.MaxValueLen+1)
	half := make([]byte, 10<<20)
	return []limitCase{
		{name: "a 70,000-byte map key", limit: replica.MaxKeyLen, want: replica.ErrTooLarge, obj: "kv",
			write:  func(tx *replica.Txn) { tx.Put(long, []byte("v")) },
			method: "PUT", query: url.Values{"key": {long}}, body: []byte("v"), code: 413},
		{name: "a value over 16 MiB", limit: replica.MaxValueLen, want: replica.ErrTooLarge, obj: "kv",
			write:  func(tx *replica.Txn) { tx.Put("k", big) },
			method: "PUT", query: url.Values{"key": {"k"}}, body: big, code: 413},
		{name: "a 70,000-byte set member", limit: replica.MaxKeyLen, want: replica.ErrTooLarge, obj: "lanes",
			write:  func(tx *replica.Txn) { tx.SetAdd(long) },
			method: "POST", query: url.Values{"op": {"sadd"}, "member": {long}}, code: 413},
		{name: "a register value over 16 MiB", limit: replica.MaxValueLen, want: replica.ErrTooLarge, obj: "banner",
			write:  func(tx *replica.Txn) { tx.Set(big) },
			method: "POST", query: url.Values{"op": {"set"}}, body: big, code: 413},
		{name: "a 70,000-byte object name", limit: replica.MaxNameLen, want: replica.ErrTooLarge, obj: long,
			write:  func(tx *replica.Txn) { tx.Put("k", nil) },
			method: "PUT", query: url.Values{"key": {"k"}}, code: 413},
		// Within what the wire accepts, but bbolt would refuse to
		// checkpoint it.
		{name: "a 40,000-byte object name", limit: replica.MaxNameLen, want: replica.ErrTooLarge, obj: strings.Repeat("o", 40000),
			write:  func(tx *replica.Txn) { tx.Put("k", nil) },
			method: "PUT", query: url.Values{"key": {"k"}}, code: 413},
		{name: "an empty object name", want: replica.ErrInvalid, obj: "",
			write:  func(tx *replica.Txn) { tx.Put("k", nil) },
			method: "PUT", query: url.Values{"key": {"k"}}, code: 400},
		{name: "an object that would pass MaxObjectLen", limit: replica.MaxObjectLen, want: replica.ErrTooLarge, obj: "kv",
			setup:  func(tx *replica.Txn) { tx.Put("a", half) },
			write:  func(tx *replica.Txn) { tx.Put("b", half) },
			method: "PUT", query: url.Values{"key": {"b"}}, body: half, code: 413},
		{name: "an incr past MaxInt64", want: crdt.ErrOverflow, obj: "hits",
			setup:  func(tx *replica.Txn) { tx.Add(math.MaxInt64) },
			write:  func(tx *replica.Txn) { tx.Add(1) },
			method: "POST", query: url.Values{"op": {"incr"}, "by": {"1"}}, code: 409},
		{name: "an incr past MinInt64", want: crdt.ErrOverflow, obj: "hits",
			setup:  func(tx *replica.Txn) { tx.Add(math.MinInt64) },
			write:  func(tx *replica.Txn) { tx.Add(-1) },
			method: "POST", query: url.Values{"op": {"incr"}, "by": {"-1"}}, code: 409},
	}
}

// Every write a decoder would refuse is refused before it is applied,
// through the Go API and through HTTP, with the limit named; nothing is
// acknowledged, and the store reopens with the state from before.
func TestWritesOverALimitAreRefused(t *testing.T) {
	for _, tc := range limitCases() {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s := openAlone(t, dir)
			defer func() { s.Close() }()
			if tc.setup != nil {
				if err := s.Update(ctx, tc.obj, func(tx *replica.Txn) error { tc.setup(tx); return nil }); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			before := s.Digest()

			err := s.Update(ctx, tc.obj, func(tx *replica.Txn) error { tc.write(tx); return nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("Update = %v, want %v", err, tc.want)
			}
			var le *replica.LimitError
			if tc.limit != 0 && (!errors.As(err, &le) || le.Limit != tc.limit || !strings.Contains(err.Error(), strconv.Itoa(tc.limit))) {
				t.Fatalf("Update error %v does not name the limit %d", err, tc.limit)
			}

			srv := httptest.NewServer(replica.Handler(s))
			defer srv.Close()
			req, _ := http.NewRequest(tc.method, srv.URL+"/v1/kv/"+url.PathEscape(tc.obj)+"?"+tc.query.Encode(), bytes.NewReader(tc.body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("%s = %d %q, want %d", tc.method, resp.StatusCode, msg, tc.code)
			}
			if tc.limit != 0 && !strings.Contains(string(msg), strconv.Itoa(tc.limit)) {
				t.Errorf("HTTP answer %q does not name the limit %d", msg, tc.limit)
			}
			if s.Digest() != before {
				t.Fatal("a refused write changed the store")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAlone(t, dir)
			if s.Digest() != before {
				t.Fatal("after reopening, the store differs from before the refused write")
			}
			if q := s.Quarantined(); len(q) != 0 {
				t.Fatalf("after reopening, %d records quarantined: %v", len(q), q)
			}
		})
	}
}

// Writes right at each limit are accepted and reload.
func TestWritesAtTheLimitsAreAccepted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openAlone(t, dir)
	key := strings.Repeat("k", replica.MaxKeyLen)
	name := strings.Repeat("o", replica.MaxNameLen)
	value := bytes.Repeat([]byte{0xff}, replica.MaxValueLen)
	writes := map[string]func(tx *replica.Txn){
		name:     func(tx *replica.Txn) { tx.Put(key, value) },
		"lanes":  func(tx *replica.Txn) { tx.SetAdd(key) },
		"banner": func(tx *replica.Txn) { tx.Set(value) },
		"hits":   func(tx *replica.Txn) { tx.Add(math.MaxInt64); tx.Add(math.MinInt64) },
	}
	for obj, w := range writes {
		if err := s.Update(ctx, obj, func(tx *replica.Txn) error { w(tx); return nil }); err != nil {
			t.Fatalf("Update(%.10s…) at the limit = %v", obj, err)
		}
	}
	want := s.Digest()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAlone(t, dir)
	defer s.Close()
	if s.Digest() != want {
		t.Fatal("writes at the limits did not reload")
	}
	if v, _ := getMap(t, s, name).Get(key); !bytes.Equal(v, value) {
		t.Fatal("the 16 MiB value did not reload")
	}
}

// One update whose mutations together pass MaxObjectLen is refused and
// creates nothing, though each mutation is within its own limit.
func TestTwoWritesOfOneTxnOverMaxObjectLenAreRefused(t *testing.T) {
	s := openAlone(t, t.TempDir())
	defer s.Close()
	half := make([]byte, 10<<20)
	err := s.Update(context.Background(), "kv", func(tx *replica.Txn) error {
		tx.Put("a", half)
		tx.Put("b", half)
		return nil
	})
	var le *replica.LimitError
	if !errors.As(err, &le) || le.Limit != replica.MaxObjectLen {
		t.Fatalf("Update of 20 MiB in one write = %v, want a LimitError of MaxObjectLen", err)
	}
	if keys := s.Keys(""); len(keys) != 0 {
		t.Fatalf("a refused write created objects %v", keys)
	}
}
