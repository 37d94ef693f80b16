package nacostest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The registration side of the v1 open API (Nacos's InstanceController),
// for ephemeral instances kept alive by heartbeats:
//
//   - POST /nacos/v1/ns/instance registers (ip, port, serviceName,
//     groupName, namespaceId, clusterName, weight, enabled, healthy,
//     metadata as JSON, ephemeral), answering "ok";
//   - PUT /nacos/v1/ns/instance/beat renews it, answering
//     {"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true};
//     for an instance the server does not know, a beat that carries the
//     instance (the beat parameter) registers it again, and a light beat
//     (no beat parameter) answers code 20404, RESOURCE_NOT_FOUND, after
//     which clients register again (InstanceController.beat, Nacos 1.4
//     and the 2.x compatibility API);
//   - DELETE /nacos/v1/ns/instance removes it, answering "ok".
//
// An instance with no heartbeat for BeatTimeout (15s) turns unhealthy, and
// for DeleteTimeout (30s) is removed, as Nacos's ClientBeatCheckTask does;
// the fake applies that when it answers, not on a timer.

// instanceParams reads what identifies an instance in a request's form
// (the v1 API accepts query or form parameters): namespace, group,
// service (a "group@@name" carries its group), ip, port and cluster.
// A bad request gets the server's message (it ends with a full stop, so
// it is not an error value).
func instanceParams(r *http.Request) (k serviceKey, ip string, port int, cluster, bad string) {
	name := r.FormValue("serviceName")
	group := cmp.Or(r.FormValue("groupName"), "DEFAULT_GROUP")
	if g, n, ok := strings.Cut(name, "@@"); ok {
		group, name = g, n
	}
	k = serviceKey{cmp.Or(r.FormValue("namespaceId"), "public"), group, name}
	ip = r.FormValue("ip")
	cluster = cmp.Or(r.FormValue("clusterName"), r.FormValue("cluster"), "DEFAULT")
	switch {
	case name == "":
		return k, "", 0, "", "Param 'serviceName' is required."
	case ip == "" && r.FormValue("beat") == "":
		return k, "", 0, "", "Param 'ip' is required."
	}
	if p := r.FormValue("port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return k, "", 0, "", "Param 'port' is illegal."
		}
		port = n
	}
	return k, ip, port, cluster, ""
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	k, ip, port, cluster, bad := instanceParams(r)
	if bad == "" && port == 0 {
		bad = "Param 'port' is required."
	}
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	var err error
	h := Host{IP: ip, Port: port, Cluster: cluster, Weight: 1, Healthy: true, Enabled: true, Ephemeral: true}
	if v := r.FormValue("weight"); v != "" {
		if h.Weight, err = strconv.ParseFloat(v, 64); err != nil {
			http.Error(w, "Param 'weight' is illegal.", http.StatusBadRequest)
			return
		}
	}
	h.Enabled = r.FormValue("enabled") != "false"
	h.Healthy = r.FormValue("healthy") != "false"
	h.Ephemeral = r.FormValue("ephemeral") != "false"
	if m := r.FormValue("metadata"); m != "" {
		if err := json.Unmarshal([]byte(m), &h.Metadata); err != nil {
			http.Error(w, "Param 'metadata' is illegal: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorizedLocked(w, r, r.URL.Query()) {
		return
	}
	h.beat = s.cfg.Now()
	s.putLocked(k, h)
	s.stats.Registrations++
	fmt.Fprint(w, "ok")
}

// putLocked adds h to service k, replacing the host at the same address
// and cluster.
func (s *Server) putLocked(k serviceKey, h Host) {
	svc := s.service(k.namespace, k.group, k.name)
	for i, old := range svc.hosts {
		if old.IP == h.IP && old.Port == h.Port && old.Cluster == h.Cluster {
			svc.hosts[i] = h
			return
		}
	}
	svc.hosts = append(svc.hosts, h)
}

// beatJSON is the beat parameter (com.alibaba.nacos.api.naming.pojo.
// builder BeatInfo).
type beatJSON struct {
	IP          string            `json:"ip"`
	Port        int               `json:"port"`
	Cluster     string            `json:"cluster"`
	ServiceName string            `json:"serviceName"`
	Weight      float64           `json:"weight"`
	Metadata    map[string]string `json:"metadata"`
}

func (s *Server) beat(w http.ResponseWriter, r *http.Request) {
	k, ip, port, cluster, bad := instanceParams(r)
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	var b *beatJSON
	if raw := r.FormValue("beat"); raw != "" {
		b = new(beatJSON)
		if err := json.Unmarshal([]byte(raw), b); err != nil {
			http.Error(w, "Param 'beat' is illegal: "+err.Error(), http.StatusBadRequest)
			return
		}
		ip, port, cluster = cmp.Or(b.IP, ip), cmp.Or(b.Port, port), cmp.Or(b.Cluster, cluster)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorizedLocked(w, r, r.URL.Query()) {
		return
	}
	s.expireLocked()
	w.Header().Set("Content-Type", "application/json")
	svc := s.services[k]
	if svc != nil {
		for i := range svc.hosts {
			h := &svc.hosts[i]
			if h.IP == ip && h.Port == port && h.Cluster == cluster && !h.beat.IsZero() {
				h.beat = s.cfg.Now()
				h.Healthy = true
				s.stats.Beats++
				fmt.Fprint(w, `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}`)
				return
			}
		}
	}
	if b == nil {
		fmt.Fprint(w, `{"clientBeatInterval":5000,"code":20404,"lightBeatEnabled":true}`)
		return
	}
	h := Host{IP: ip, Port: port, Cluster: cluster, Weight: cmp.Or(b.Weight, 1), Healthy: true, Enabled: true, Ephemeral: true, Metadata: b.Metadata, beat: s.cfg.Now()}
	s.putLocked(k, h)
	s.stats.Beats++
	fmt.Fprint(w, `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}`)
}

func (s *Server) deregister(w http.ResponseWriter, r *http.Request) {
	k, ip, port, cluster, bad := instanceParams(r)
	if bad != "" {
		http.Error(w, bad, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorizedLocked(w, r, r.URL.Query()) {
		return
	}
	if svc := s.services[k]; svc != nil {
		kept := svc.hosts[:0]
		for _, h := range svc.hosts {
			if !(h.IP == ip && h.Port == port && h.Cluster == cluster) {
				kept = append(kept, h)
			}
		}
		svc.hosts = kept
	}
	s.stats.Deregistrations++
	fmt.Fprint(w, "ok")
}

// expireLocked marks unhealthy, then removes, the API-registered
// ephemeral instances whose heartbeats stopped.
func (s *Server) expireLocked() {
	now := s.cfg.Now()
	for _, svc := range s.services {
		kept := svc.hosts[:0]
		for _, h := range svc.hosts {
			if h.Ephemeral && !h.beat.IsZero() {
				age := now.Sub(h.beat)
				if age > s.cfg.DeleteTimeout {
					continue
				}
				if age > s.cfg.BeatTimeout {
					h.Healthy = false
				}
			}
			kept = append(kept, h)
		}
		svc.hosts = kept
	}
}

// Hosts returns the hosts of a service as a list would (before the protect
// threshold), heartbeat expiry applied. An empty namespace is "public", an
// empty group "DEFAULT_GROUP".
func (s *Server) Hosts(namespace, group, name string) []Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	svc := s.services[serviceKey{cmp.Or(namespace, "public"), cmp.Or(group, "DEFAULT_GROUP"), name}]
	if svc == nil {
		return nil
	}
	out := make([]Host, len(svc.hosts))
	copy(out, svc.hosts)
	return out
}
