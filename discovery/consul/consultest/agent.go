package consultest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// The agent's service API, for instances that register themselves with a
// TTL check (Consul's /v1/agent/service endpoints, agent/agent_endpoint.go):
//
//   - PUT /v1/agent/service/register takes the service definition as JSON
//     (ID, Name, Tags, Address, Port, Meta, Weights, Check). A Check with
//     a TTL and no CheckID gets the ID "service:<service ID>"; its status
//     starts as Check.Status, critical when absent ("Status: Specifies
//     the initial status of the health check", default critical).
//     Registering an ID again replaces it.
//   - PUT /v1/agent/check/pass/<check ID> sets a TTL check passing and
//     restarts its TTL; an unknown ID answers 404 `Unknown check ID
//     "…"`.
//   - PUT /v1/agent/service/deregister/<service ID> removes the service
//     and its checks; an unknown ID answers 404 `Unknown service ID "…"`.
//
// A TTL check not passed within its TTL turns critical ("If the check is
// not set to passing within the TTL, it is set to critical"); a check
// critical for longer than DeregisterCriticalServiceAfter has its service
// removed. Consul's reaper runs every 30s, so the removal comes up to 30s
// late there; the fake removes at once. The registered instance lives on
// the agent's node: Node "agent-1" at 127.0.0.1 in "dc1" unless the
// Config says otherwise. Weights absent are {Passing: 1, Warning: 1}, as
// the agent fills them in.

// agentService is a registration through the agent API.
type agentService struct {
	name    string
	entry   Entry
	checkID string        // the TTL check, "" without one
	ttl     time.Duration // 0: no TTL check
	reap    time.Duration // DeregisterCriticalServiceAfter, 0: never
	expire  *time.Timer   // turns the check critical
	remove  *time.Timer   // deregisters once critical for reap
}

type registration struct {
	ID      string
	Name    string
	Tags    []string
	Address string
	Port    int
	Meta    map[string]string
	Weights *Weights
	Check   *struct {
		CheckID                        string
		TTL                            string
		Status                         string
		DeregisterCriticalServiceAfter string
	}
}

func (s *Server) token(r *http.Request) string {
	return cmp.Or(r.Header.Get("X-Consul-Token"), r.URL.Query().Get("token"))
}

func (s *Server) agentRegister(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Token != "" && s.token(r) != s.cfg.Token {
		http.Error(w, "Permission denied: token lacks 'service:write'", http.StatusForbidden)
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	var reg registration
	if err := json.Unmarshal(b, &reg); err != nil {
		http.Error(w, "Request decode failed: "+err.Error(), http.StatusBadRequest)
		return
	}
	if reg.Name == "" {
		http.Error(w, "Missing service name", http.StatusBadRequest)
		return
	}
	reg.ID = cmp.Or(reg.ID, reg.Name)
	as := &agentService{name: reg.Name}
	node, addr, dc := cmp.Or(s.cfg.Node, "agent-1"), cmp.Or(s.cfg.NodeAddress, "127.0.0.1"), cmp.Or(s.cfg.Datacenter, "dc1")
	as.entry = Entry{
		Node: node, NodeAddress: addr, Datacenter: dc,
		ServiceID: reg.ID, ServiceAddress: reg.Address, Port: reg.Port,
		Tags: slices.Clone(reg.Tags), Meta: reg.Meta,
		Weights: cmp.Or(reg.Weights, &Weights{Passing: 1, Warning: 1}),
		Checks:  []Check{{ID: "serfHealth", Status: "passing"}},
	}
	if c := reg.Check; c != nil && c.TTL != "" {
		if as.ttl, err = time.ParseDuration(c.TTL); err != nil || as.ttl <= 0 {
			http.Error(w, fmt.Sprintf("Invalid check: TTL %q", c.TTL), http.StatusBadRequest)
			return
		}
		if d := c.DeregisterCriticalServiceAfter; d != "" {
			if as.reap, err = time.ParseDuration(d); err != nil || as.reap < 0 {
				http.Error(w, fmt.Sprintf("Invalid check: DeregisterCriticalServiceAfter %q", d), http.StatusBadRequest)
				return
			}
		}
		as.checkID = cmp.Or(c.CheckID, "service:"+reg.ID)
		as.entry.Checks = append(as.entry.Checks, Check{ID: as.checkID, Status: cmp.Or(c.Status, "critical")})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.agent[reg.ID]; old != nil {
		old.stop()
	}
	if s.agent == nil {
		s.agent = map[string]*agentService{}
	}
	s.agent[reg.ID] = as
	if as.ttl > 0 {
		as.expire = time.AfterFunc(as.ttl, func() { s.ttlExpired(reg.ID, as) })
		if as.entry.Checks[1].Status == "critical" {
			s.armReapLocked(reg.ID, as)
		}
	}
	s.agentStats.Registrations++
	s.syncAgentLocked(reg.Name)
}

func (as *agentService) stop() {
	if as.expire != nil {
		as.expire.Stop()
	}
	if as.remove != nil {
		as.remove.Stop()
	}
}

// ttlExpired turns the TTL check of as critical, if as is still the
// registration of id.
func (s *Server) ttlExpired(id string, as *agentService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.agent[id] != as {
		return
	}
	as.entry.Checks[1].Status = "critical"
	s.armReapLocked(id, as)
	s.syncAgentLocked(as.name)
}

func (s *Server) armReapLocked(id string, as *agentService) {
	if as.reap <= 0 || as.remove != nil {
		return
	}
	as.remove = time.AfterFunc(as.reap, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.agent[id] == as && as.entry.Checks[1].Status == "critical" {
			delete(s.agent, id)
			s.agentStats.Reaped++
			s.syncAgentLocked(as.name)
		}
	})
}

func (s *Server) agentPass(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Token != "" && s.token(r) != s.cfg.Token {
		http.Error(w, "Permission denied: token lacks 'service:write'", http.StatusForbidden)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, as := range s.agent {
		if as.checkID != id {
			continue
		}
		as.expire.Reset(as.ttl)
		if as.remove != nil {
			as.remove.Stop()
			as.remove = nil
		}
		if as.entry.Checks[1].Status != "passing" {
			as.entry.Checks[1].Status = "passing"
			s.syncAgentLocked(as.name)
		}
		s.agentStats.Passes++
		return
	}
	http.Error(w, fmt.Sprintf("Unknown check ID %q. Ensure that the check ID is passed, not the check name.", id), http.StatusNotFound)
}

func (s *Server) agentDeregister(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Token != "" && s.token(r) != s.cfg.Token {
		http.Error(w, "Permission denied: token lacks 'service:write'", http.StatusForbidden)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	as := s.agent[id]
	if as == nil {
		http.Error(w, fmt.Sprintf("Unknown service ID %q. Ensure that the service ID is passed, not the service name.", id), http.StatusNotFound)
		return
	}
	as.stop()
	delete(s.agent, id)
	s.agentStats.Deregistrations++
	s.syncAgentLocked(as.name)
}

// syncAgentLocked writes the agent's registrations of service name into
// the catalog, beside the entries Set gave it, at a new index.
func (s *Server) syncAgentLocked(name string) {
	svc := s.services[name]
	var entries []Entry
	if svc != nil {
		for _, e := range svc.entries {
			if !e.agent {
				entries = append(entries, e)
			}
		}
	}
	ids := make([]string, 0, len(s.agent))
	for id, as := range s.agent {
		if as.name == name {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := s.agent[id].entry
		e.Checks = slices.Clone(e.Checks)
		e.agent = true
		entries = append(entries, e)
	}
	s.index++
	s.services[name] = &service{entries: entries, index: s.index}
	s.wakeLocked()
}

// AgentStats counts the agent API's requests that succeeded, and the
// services removed for staying critical.
type AgentStats struct {
	Registrations, Passes, Deregistrations, Reaped int
}

// AgentStats returns the agent API's counts so far.
func (s *Server) AgentStats() AgentStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agentStats
}

// CheckStatus returns the status of a TTL check registered through the
// agent API, "" when no service has it.
func (s *Server) CheckStatus(checkID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, as := range s.agent {
		if as.checkID == checkID {
			return as.entry.Checks[1].Status
		}
	}
	return ""
}

// held wraps an agent handler: while the server hangs, a request waits for
// release, for Close or for its client to go away, as health queries do.
func (s *Server) held(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
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
		h(w, r)
	}
}
