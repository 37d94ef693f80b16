package replica

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duohuo/duohuo/crdt"
)

// Handler returns the HTTP API of s, for the admin listener (which adds
// authentication). Paths:
//
//	GET    /v1/kv/                    the store's status as JSON ([StatusJSON])
//	GET    /v1/kv/{object}            the object as JSON: {"object","kind","value"}
//	GET    /v1/kv/{object}?key=K      map key K's value, raw bytes; 404 if absent
//	PUT    /v1/kv/{object}?key=K      set map key K to the request body
//	DELETE /v1/kv/{object}?key=K      delete map key K
//	POST   /v1/kv/{object}?op=incr&by=N        add N (default 1) to a counter
//	POST   /v1/kv/{object}?op=sadd&member=M    add M to a set
//	POST   /v1/kv/{object}?op=srem&member=M    remove M from a set
//	POST   /v1/kv/{object}?op=set              set a register to the body
//	GET    /v1/watch/{prefix}         server-sent events, one "change" event
//	                                  per changed object, data as for GET
//
// Object names may contain slashes. A write answers 204 once it is durable.
// Errors: 400 bad request, 404 not found, 409 wrong kind for the operation
// or a counter that would overflow, 413 a name, key, member, value or
// object over its limit (see [MaxObjectLen]; the message names the limit),
// 503 store closed. The handler is safe for concurrent use.
func Handler(s *Store) http.Handler { return (&httpAPI{s: s, write: s.Update}).handler() }

func (h *httpAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/kv/{$}", h.status)
	mux.HandleFunc("GET /v1/kv/{object...}", h.get)
	mux.HandleFunc("PUT /v1/kv/{object...}", h.put)
	mux.HandleFunc("DELETE /v1/kv/{object...}", h.del)
	mux.HandleFunc("POST /v1/kv/{object...}", h.post)
	mux.HandleFunc("GET /v1/watch/{prefix...}", h.watch)
	return mux
}

type httpAPI struct {
	s     *Store
	write func(ctx context.Context, key string, fn func(*Txn) error) error // s.Update; the fuzz test's in-memory stand-in
}

// ObjectJSON is the JSON form of an object in the HTTP API: Value is a map
// of string values for an ormap, a number for counters, a list of strings
// for sets, a string for a register. Every name, key, member and value in
// it is written by [JSONString], so bytes that are not UTF-8 round-trip.
// Saturated is set for a pncounter whose true value is outside the int64
// range (see [crdt.PNCounter.Saturated]): Value is then clamped.
type ObjectJSON struct {
	Object    string `json:"object"`
	Kind      string `json:"kind"`
	Value     any    `json:"value"`
	Saturated bool   `json:"saturated,omitempty"`
}

// BinaryPrefix starts a JSON string of the HTTP API that holds bytes in
// base64 (see [JSONString]).
const BinaryPrefix = "base64:"

// JSONString returns b as the HTTP API writes it in a JSON string: b
// itself if it is valid UTF-8 and does not begin with [BinaryPrefix], else
// BinaryPrefix followed by b in standard base64 with padding (RFC 4648,
// section 4). JSON strings hold only Unicode, so bytes that are not UTF-8
// would otherwise be replaced by U+FFFD and lost, and two such keys would
// become one; the prefix rule keeps strings that merely look encoded
// unambiguous. [ParseJSONString] reverses it.
func JSONString(b []byte) string {
	if utf8.Valid(b) && !bytes.HasPrefix(b, []byte(BinaryPrefix)) {
		return string(b)
	}
	return BinaryPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseJSONString returns the bytes a string written by [JSONString]
// stands for.
func ParseJSONString(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, BinaryPrefix)
	if !ok {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("replica: %q: not base64 after %q: %w", s, BinaryPrefix, err)
	}
	return b, nil
}

func jsonStrings(es []string) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = JSONString([]byte(e))
	}
	return out
}

// ToJSON returns the JSON form of object o named name.
func ToJSON(name string, o crdt.Object) ObjectJSON {
	j := ObjectJSON{Object: JSONString([]byte(name)), Kind: o.Kind().String()}
	switch v := o.(type) {
	case *crdt.ORMap:
		m := make(map[string]string, v.Len())
		for k, val := range v.All() {
			m[JSONString([]byte(k))] = JSONString(val)
		}
		j.Value = m
	case *crdt.PNCounter:
		j.Value = v.Value()
		j.Saturated = v.Saturated()
	case *crdt.GCounter:
		j.Value = v.Value()
	case *crdt.ORSet:
		j.Value = jsonStrings(v.Elements())
	case *crdt.LWWSet:
		j.Value = jsonStrings(v.Elements())
	case *crdt.LWWRegister:
		val, _ := v.Get()
		j.Value = JSONString(val)
	}
	return j
}

// StatusJSON is the JSON form of the store's status, GET /v1/kv/.
type StatusJSON struct {
	Site        string        `json:"site"`
	Replica     string        `json:"replica"` // the replica id, 16 hex digits
	Objects     int           `json:"objects"`
	Members     []string      `json:"members,omitempty"` // sites seen alive; none when the store runs alone
	Quarantined []Quarantined `json:"quarantined"`       // records recovery could not load (see Store.Quarantined)
	// Peers are the join targets and their state (see Store.Peers):
	// those not "connected" are unreachable, refuse our key, or are being
	// joined for the first time.
	Peers []Peer `json:"peers,omitempty"`
	// Conflicts are the states of losing kinds kept aside (see
	// Store.Conflicts and docs/replication.md, "Kind conflicts").
	Conflicts []Conflict `json:"conflicts"`
}

func (h *httpAPI) status(w http.ResponseWriter, _ *http.Request) {
	q := h.s.Quarantined()
	for i := range q {
		q[i].Record = JSONString([]byte(q[i].Record))
		q[i].Object = JSONString([]byte(q[i].Object))
	}
	if q == nil {
		q = []Quarantined{}
	}
	st := StatusJSON{Site: h.s.Name(), Replica: h.s.Replica().String(), Objects: len(h.s.Keys("")),
		Members: h.s.Members(), Quarantined: q, Peers: h.s.Peers(), Conflicts: h.s.Conflicts()}
	for i := range st.Conflicts {
		st.Conflicts[i].Object = JSONString([]byte(st.Conflicts[i].Object))
	}
	if st.Conflicts == nil {
		st.Conflicts = []Conflict{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(st)
}

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrTooLarge):
		code = http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, crdt.ErrKind), errors.Is(err, crdt.ErrOverflow):
		code = http.StatusConflict
	case errors.Is(err, ErrClosed):
		code = http.StatusServiceUnavailable
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

var errBadRequest = errors.New("bad request")

func (h *httpAPI) get(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("object")
	var (
		value []byte
		obj   ObjectJSON
	)
	single := r.URL.Query().Has("key")
	k := r.URL.Query().Get("key")
	// Read, not Get: a key lookup must not copy a large object.
	err := h.s.Read(name, func(o crdt.Object) error {
		if !single {
			obj = ToJSON(name, o)
			return nil
		}
		m, ok := o.(*crdt.ORMap)
		if !ok {
			return fmt.Errorf("object %q is a %v, not a map: %w", name, o.Kind(), crdt.ErrKind)
		}
		v, ok := m.Get(k)
		if !ok {
			return fmt.Errorf("key %q in %q: %w", k, name, ErrNotFound)
		}
		value = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		httpError(w, err)
		return
	}
	if single {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(value)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(obj)
}

func (h *httpAPI) update(w http.ResponseWriter, r *http.Request, fn func(tx *Txn) error) {
	if err := h.write(r.Context(), r.PathValue("object"), fn); err != nil {
		httpError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func requireParam(r *http.Request, name string) (string, error) {
	if !r.URL.Query().Has(name) {
		return "", fmt.Errorf("query parameter %q is required: %w", name, errBadRequest)
	}
	return r.URL.Query().Get(name), nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValueLen))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		// The body is cut at the limit: its real length is unknown.
		return nil, fmt.Errorf("%w (request body)", &LimitError{What: "value", Limit: MaxValueLen})
	case err != nil:
		return nil, fmt.Errorf("read body: %v: %w", err, errBadRequest)
	}
	return b, nil
}

func (h *httpAPI) put(w http.ResponseWriter, r *http.Request) {
	k, err := requireParam(r, "key")
	if err != nil {
		httpError(w, err)
		return
	}
	v, err := readBody(w, r)
	if err != nil {
		httpError(w, err)
		return
	}
	h.update(w, r, func(tx *Txn) error { tx.Put(k, v); return nil })
}

func (h *httpAPI) del(w http.ResponseWriter, r *http.Request) {
	k, err := requireParam(r, "key")
	if err != nil {
		httpError(w, err)
		return
	}
	h.update(w, r, func(tx *Txn) error { tx.Delete(k); return nil })
}

func (h *httpAPI) post(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch op := q.Get("op"); op {
	case "incr":
		by := int64(1)
		if q.Has("by") {
			n, err := strconv.ParseInt(q.Get("by"), 10, 64)
			if err != nil {
				httpError(w, fmt.Errorf("by=%q: want an integer: %w", q.Get("by"), errBadRequest))
				return
			}
			by = n
		}
		h.update(w, r, func(tx *Txn) error { tx.Add(by); return nil })
	case "sadd", "srem":
		m, err := requireParam(r, "member")
		if err != nil {
			httpError(w, err)
			return
		}
		h.update(w, r, func(tx *Txn) error {
			if op == "sadd" {
				tx.SetAdd(m)
			} else {
				tx.SetRemove(m)
			}
			return nil
		})
	case "set":
		v, err := readBody(w, r)
		if err != nil {
			httpError(w, err)
			return
		}
		h.update(w, r, func(tx *Txn) error { tx.Set(v); return nil })
	default:
		httpError(w, fmt.Errorf("op=%q: want incr, sadd, srem or set: %w", op, errBadRequest))
	}
}

func (h *httpAPI) watch(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	events := h.s.Watch(r.Context(), r.PathValue("prefix"))
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			b, _ := json.Marshal(ToJSON(ev.Key, ev.Object))
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", b)
			fl.Flush()
		case <-keepalive.C:
			// A comment line keeps proxies from closing an idle stream.
			fmt.Fprint(w, ": keepalive\n\n")
			fl.Flush()
		}
	}
}
