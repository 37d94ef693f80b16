package consultest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Check is one health check of an entry.
type Check struct {
	ID     string // e.g. "serfHealth", "service:api-1", "_node_maintenance"
	Status string // "passing", "warning" or "critical"
}

// Weights are a service instance's weights (Service.Weights).
type Weights struct{ Passing, Warning int }

// Entry is one instance of a service: a node, the service on it, and their
// checks.
type Entry struct {
	Node           string
	NodeAddress    string
	Datacenter     string
	NodeMeta       map[string]string
	ServiceID      string
	ServiceAddress string // may be empty: the service listens on the node's address
	Port           int
	Tags           []string
	Meta           map[string]string
	Weights        *Weights // nil: left out of the answer
	Checks         []Check
	agent          bool // registered through the agent API
}

// Instance returns a passing Entry at addr ("10.0.0.1:8080") on a node of
// the same address in datacenter "dc1", with the weights Consul's agent
// gives a registration without any (Passing 1, Warning 1). It panics on a
// malformed address, which is a bug in the test.
func Instance(addr string) Entry {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		panic(err)
	}
	id := "api-" + addr
	return Entry{
		Node: "node-" + h, NodeAddress: h, Datacenter: "dc1",
		ServiceID: id, ServiceAddress: h, Port: port,
		Weights: &Weights{Passing: 1, Warning: 1},
		Checks:  []Check{{ID: "serfHealth", Status: "passing"}, {ID: "service:" + id, Status: "passing"}},
	}
}

// Config configures a [Server]. The zero value is a server without ACLs.
type Config struct {
	// Token, when set, is the only ACL token accepted: requests without it
	// in X-Consul-Token (or ?token=) answer 403 "ACL not found".
	Token string
	// Node, NodeAddress and Datacenter are the agent's node, which the
	// services registered through the agent API run on. If empty,
	// "agent-1", "127.0.0.1" and "dc1".
	Node, NodeAddress, Datacenter string
}

// Query is one health query the server received.
type Query struct {
	Service string
	Index   uint64 // 0 when absent
	Wait    string
	DC      string
	Stale   bool
	Token   string
}

// Server is a fake Consul agent listening on loopback. Its methods are safe
// for concurrent use.
type Server struct {
	cfg  Config
	http *httptest.Server

	mu       sync.Mutex // guards the fields below
	index    uint64     // the Raft index: bumped by every write
	services map[string]*service
	changed  chan struct{} // closed and replaced on every write
	zero     bool
	churn    bool
	hang     chan struct{}
	closed   chan struct{}
	queries  []Query
	blocked  int           // queries waiting for a change right now
	moved    chan struct{} // closed and replaced whenever blocked changes
	// agent holds the registrations of the agent API by service ID.
	agent      map[string]*agentService
	agentStats AgentStats
}

type service struct {
	entries []Entry
	index   uint64 // the index of the service's last change
}

// NewServer starts a Server. Close it when done.
func NewServer(cfg Config) *Server {
	s := &Server{
		cfg:      cfg,
		index:    1,
		services: map[string]*service{},
		changed:  make(chan struct{}),
		moved:    make(chan struct{}),
		closed:   make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health/service/{name}", s.health)
	mux.HandleFunc("PUT /v1/agent/service/register", s.held(s.agentRegister))
	mux.HandleFunc("PUT /v1/agent/check/pass/{id...}", s.held(s.agentPass))
	mux.HandleFunc("PUT /v1/agent/service/deregister/{id...}", s.held(s.agentDeregister))
	s.http = httptest.NewServer(mux)
	return s
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.http.Listener.Addr().String() }

// URL returns "http://127.0.0.1:port".
func (s *Server) URL() string { return s.http.URL }

// Close stops the server, releasing blocked and hung requests first.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	for _, as := range s.agent {
		as.stop()
	}
	s.mu.Unlock()
	s.http.CloseClientConnections()
	s.http.Close()
}

// Set registers entries as the instances of service, replacing what it
// had (but those registered through the agent API), at a new index;
// blocked queries on it return.
func (s *Server) Set(name string, entries ...Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := make([]Entry, len(entries))
	for i, e := range entries {
		e.NodeMeta, e.Meta = maps.Clone(e.NodeMeta), maps.Clone(e.Meta)
		e.Tags, e.Checks = slices.Clone(e.Tags), slices.Clone(e.Checks)
		cp[i] = e
	}
	s.index++
	s.services[name] = &service{entries: cp, index: s.index}
	for _, as := range s.agent {
		if as.name == name {
			s.syncAgentLocked(name) // the agent's own registrations stay
			break
		}
	}
	s.wakeLocked()
}

// Restore sets every index to index, lower than before, as restoring an
// older Raft snapshot does ("Reset the index if it goes backwards" in
// Consul's blocking-query documentation); blocked queries return.
func (s *Server) Restore(index uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.index = index
	for _, svc := range s.services {
		svc.index = min(svc.index, index)
	}
	s.wakeLocked()
}

// ZeroIndex makes the answers for a service that was never registered carry
// X-Consul-Index 0 while on, as some older Consul versions did for data
// that does not exist yet ("Sanity check index is greater than zero… It is
// always safe to use an index of 1 to wait for updates when the data being
// requested doesn't exist yet"). A query at index 1 then blocks until the
// service is registered.
func (s *Server) ZeroIndex(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zero = on
}

// Churn makes every answer come at a new index while on, without waiting:
// on a busy cluster the index moves for writes that do not change the
// service (hashicorp/consul#3890).
func (s *Server) Churn(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.churn = on
}

// Hang makes every request wait, without an answer, until Hang(false),
// Close, or the client giving up.
func (s *Server) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hang == nil:
		s.hang = make(chan struct{})
	case !on && s.hang != nil:
		close(s.hang)
		s.hang = nil
	}
}

// Queries returns the health queries received so far, in order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// Blocked returns how many queries are waiting for a change right now.
func (s *Server) Blocked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked
}

// WaitBlocked waits until n queries are waiting for a change, or ctx ends.
func (s *Server) WaitBlocked(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, moved := s.blocked, s.moved
		s.mu.Unlock()
		if got == n {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("consultest: %d blocked queries, want %d: %w", got, n, ctx.Err())
		}
	}
}

// setBlockedLocked changes blocked by d and wakes WaitBlocked. s.mu held.
func (s *Server) setBlockedLocked(d int) {
	s.blocked += d
	close(s.moved)
	s.moved = make(chan struct{})
}

// Index returns the server's current index.
func (s *Server) Index() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index
}

func (s *Server) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// entryJSON is an entry as /v1/health/service writes it.
type entryJSON struct {
	Node struct {
		ID         string
		Node       string
		Address    string
		Datacenter string
		Meta       map[string]string
	}
	Service struct {
		ID      string
		Service string
		Tags    []string
		Address string
		Meta    map[string]string
		Port    int
		Weights *Weights `json:",omitempty"`
	}
	Checks []struct {
		Node        string
		CheckID     string
		Name        string
		Status      string
		ServiceID   string
		ServiceName string
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	token := cmp.Or(r.Header.Get("X-Consul-Token"), q.Get("token"))
	var index uint64
	if v := q.Get("index"); v != "" {
		var err error
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			http.Error(w, "Invalid index: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	_, stale := q["stale"]

	s.mu.Lock()
	s.queries = append(s.queries, Query{Service: name, Index: index, Wait: q.Get("wait"), DC: q.Get("dc"), Stale: stale, Token: token})
	hang := s.hang
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-s.closed:
			return
		case <-r.Context().Done():
			return
		}
	}
	if s.cfg.Token != "" && token != s.cfg.Token {
		http.Error(w, "ACL not found", http.StatusForbidden)
		return
	}
	wait, err := parseWait(q.Get("wait"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// "A small random amount of additional wait time is added to the
	// supplied maximum wait time… up to wait / 16".
	deadline := time.NewTimer(wait + rand.N(wait/16+1))
	defer deadline.Stop()
	for {
		s.mu.Lock()
		cur := s.serviceIndex(name)
		if s.churn {
			s.index++
			cur = s.index
		}
		// An index of 0 does not block; otherwise the query waits while
		// the service is at or below the given index.
		if index == 0 || cur > index || s.churn {
			s.answerLocked(w, name, cur)
			s.mu.Unlock()
			return
		}
		changed := s.changed
		s.setBlockedLocked(1)
		s.mu.Unlock()

		var timedOut, gone bool
		select {
		case <-changed:
		case <-deadline.C:
			timedOut = true
		case <-s.closed:
			gone = true
		case <-r.Context().Done():
			gone = true
		}
		s.mu.Lock()
		s.setBlockedLocked(-1)
		now := s.serviceIndex(name)
		switch {
		case gone:
			s.mu.Unlock()
			return
		case timedOut, now < index:
			// The wait ran out ("the return of a blocking request is no
			// guarantee of a change": same data, same index), or a
			// restore lowered the index below the client's, which
			// Consul answers at once.
			s.answerLocked(w, name, now)
			s.mu.Unlock()
			return
		}
		// A write, maybe to another service: look again.
		s.mu.Unlock()
	}
}

// serviceIndex is the index answered for name: its last change, or for a
// service never registered the server's index (at least 1), or 0 with
// ZeroIndex.
func (s *Server) serviceIndex(name string) uint64 {
	if svc := s.services[name]; svc != nil {
		return svc.index
	}
	if s.zero {
		return 0
	}
	return s.index
}

// parseWait reads ?wait=: "10s", "5m", "1500ms"; Consul's default is 5
// minutes and its maximum 10.
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid wait time: %q", v)
	}
	return min(d, 10*time.Minute), nil
}

func (s *Server) answerLocked(w http.ResponseWriter, name string, index uint64) {
	out := []entryJSON{}
	if svc := s.services[name]; svc != nil {
		for n, e := range svc.entries {
			var j entryJSON
			j.Node.ID = fmt.Sprintf("%08x-0000-4000-8000-000000000000", n)
			j.Node.Node, j.Node.Address, j.Node.Datacenter = e.Node, e.NodeAddress, e.Datacenter
			j.Node.Meta = orEmpty(e.NodeMeta)
			j.Service.ID, j.Service.Service = e.ServiceID, name
			j.Service.Tags = e.Tags
			if j.Service.Tags == nil {
				j.Service.Tags = []string{}
			}
			j.Service.Address, j.Service.Port = e.ServiceAddress, e.Port
			j.Service.Meta = orEmpty(e.Meta)
			j.Service.Weights = e.Weights
			for _, c := range e.Checks {
				cj := struct {
					Node        string
					CheckID     string
					Name        string
					Status      string
					ServiceID   string
					ServiceName string
				}{Node: e.Node, CheckID: c.ID, Name: c.ID, Status: c.Status}
				if c.ID != "serfHealth" && c.ID != "_node_maintenance" {
					cj.ServiceID, cj.ServiceName = e.ServiceID, name
				}
				j.Checks = append(j.Checks, cj)
			}
			out = append(out, j)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Consul-Index", strconv.FormatUint(index, 10))
	w.Header().Set("X-Consul-KnownLeader", "true")
	w.Header().Set("X-Consul-LastContact", "0")
	_ = json.NewEncoder(w).Encode(out)
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
