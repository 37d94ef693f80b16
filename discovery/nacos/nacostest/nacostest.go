package nacostest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Host is one registered instance, with the fields of the Nacos instance
// model (com.alibaba.nacos.api.naming.pojo.Instance).
type Host struct {
	IP        string
	Port      int
	Weight    float64
	Healthy   bool
	Enabled   bool
	Ephemeral bool
	Cluster   string
	Metadata  map[string]string
	// beat is the last heartbeat of an instance registered over the API
	// (zero for those of Set, which never expire).
	beat time.Time
}

// Instance returns a Host at addr ("10.0.0.1:8080") with the defaults of
// the Nacos instance model: weight 1.0, healthy, enabled, ephemeral, cluster
// "DEFAULT". It panics on a malformed address, which is a bug in the test.
func Instance(addr string) Host {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		panic(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		panic(err)
	}
	return Host{IP: h, Port: port, Weight: 1, Healthy: true, Enabled: true, Ephemeral: true, Cluster: "DEFAULT"}
}

// Config configures a [Server]. The zero value is a server without
// authentication.
type Config struct {
	// Username and Password, when Username is set, turn authentication on
	// (nacos.core.auth.enabled=true): lists need an access token from a
	// login with these credentials.
	Username, Password string
	// TokenTTL is the lifetime of a token. If zero, 18000s, the server's
	// default (nacos.core.auth.plugin.nacos.token.expire.seconds).
	TokenTTL time.Duration
	// V1Disabled answers 410 Gone on the v1 API, as a Nacos 3.x server
	// with nacos.core.api.compatibility.client.enabled=false does.
	V1Disabled bool
	// Now is the server's clock for token lifetimes and heartbeats. If
	// nil, time.Now.
	Now func() time.Time
	// BeatTimeout is how long an ephemeral instance registered over the
	// API stays healthy without a heartbeat. If zero, 15s
	// (preserved.heart.beat.timeout).
	BeatTimeout time.Duration
	// DeleteTimeout is how long it stays registered without one. If zero,
	// 30s (preserved.ip.delete.timeout).
	DeleteTimeout time.Duration
}

// Stats counts the requests a Server answered.
type Stats struct {
	Lists    int // instance-list requests answered 200
	Logins   int // successful logins
	Rejected int // requests answered 401 or 403
	Gone     int // requests answered 410
	// Registrations, Beats and Deregistrations count the registration
	// API's requests answered 200.
	Registrations, Beats, Deregistrations int
}

type serviceKey struct{ namespace, group, name string }

type service struct {
	hosts     []Host
	threshold float64
}

// Server is a fake Nacos server listening on loopback. Its methods are safe
// for concurrent use.
type Server struct {
	cfg  Config
	http *httptest.Server

	mu         sync.Mutex // guards the fields below
	services   map[serviceKey]*service
	tokens     map[string]time.Time // token → expiry
	restarting bool
	hang       chan struct{} // non-nil while hanging; closed to release
	closed     chan struct{}
	stats      Stats
	lastQuery  url.Values
}

// NewServer starts a Server. Close it when done.
func NewServer(cfg Config) *Server {
	cfg.TokenTTL = cmp.Or(cfg.TokenTTL, 18000*time.Second)
	cfg.BeatTimeout = cmp.Or(cfg.BeatTimeout, 15*time.Second)
	cfg.DeleteTimeout = cmp.Or(cfg.DeleteTimeout, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:      cfg,
		services: map[serviceKey]*service{},
		tokens:   map[string]time.Time{},
		closed:   make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nacos/v1/ns/instance/list", s.list)
	mux.HandleFunc("POST /nacos/v1/ns/instance", s.register)
	mux.HandleFunc("DELETE /nacos/v1/ns/instance", s.deregister)
	mux.HandleFunc("PUT /nacos/v1/ns/instance/beat", s.beat)
	// Nacos 2.x serves the login under both paths (UserController is
	// mapped to /v1/auth and /v1/auth/users).
	mux.HandleFunc("POST /nacos/v1/auth/login", s.login)
	mux.HandleFunc("POST /nacos/v1/auth/users/login", s.login)
	// Nacos 3.x tags the v2 open API ADMIN_API, and
	// nacos.core.api.compatibility.admin.enabled defaults to false, so
	// ApiCompatibilityFilter answers 410 Gone.
	mux.HandleFunc("/nacos/v2/ns/instance/list", func(w http.ResponseWriter, r *http.Request) {
		s.gone(w, "GET /nacos/v3/admin/ns/instance/list")
	})
	s.http = httptest.NewServer(s.hold(mux))
	return s
}

// Addr returns the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.http.Listener.Addr().String() }

// URL returns "http://127.0.0.1:port".
func (s *Server) URL() string { return s.http.URL }

// Close stops the server, releasing hung requests first.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	s.http.CloseClientConnections()
	s.http.Close()
}

// Set registers hosts as the instances of a service, replacing what it had.
// An empty namespace is "public", an empty group "DEFAULT_GROUP".
func (s *Server) Set(namespace, group, name string, hosts ...Host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.service(namespace, group, name)
	svc.hosts = make([]Host, len(hosts))
	for i, h := range hosts {
		h.Metadata = maps.Clone(h.Metadata)
		svc.hosts[i] = h
	}
}

// SetProtectThreshold sets a service's protect threshold (0 to 1; Nacos's
// default is 0).
func (s *Server) SetProtectThreshold(namespace, group, name string, t float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.service(namespace, group, name).threshold = t
}

// SetRestarting makes every list answer no hosts while on, as a Nacos member
// does after a restart until its data is back (alibaba/nacos#10209: a
// restarted non-leader member pushed empty lists; #7697: a large member
// needs about 16s to load its snapshot).
func (s *Server) SetRestarting(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restarting = on
}

// Hang makes every request wait, without an answer, until Hang(false),
// Close, or the client giving up, as a server stuck in a long garbage
// collection or behind a black-holed network does.
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

// RevokeTokens makes every token granted so far invalid, as a server
// restarted with a new secret key does.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Stats returns the request counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// LastQuery returns the query parameters of the last instance-list request.
func (s *Server) LastQuery() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.lastQuery)
}

func (s *Server) service(namespace, group, name string) *service {
	k := serviceKey{cmp.Or(namespace, "public"), cmp.Or(group, "DEFAULT_GROUP"), name}
	svc := s.services[k]
	if svc == nil {
		svc = &service{}
		s.services[k] = svc
	}
	return svc
}

// hold wraps h: while the server hangs, a request waits for release, for
// Close or for its client to go away.
func (s *Server) hold(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
		h.ServeHTTP(w, r)
	})
}

func (s *Server) gone(w http.ResponseWriter, alternative string) {
	s.mu.Lock()
	s.stats.Gone++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusGone)
	fmt.Fprintf(w, `{"code":410,"message":"API deprecated, use %s","data":null}`, alternative)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.cfg.V1Disabled {
		s.gone(w, "POST /nacos/v3/auth/user/login")
		return
	}
	// The Java client sends the username in the query and the password in
	// the form; others send both in the form. FormValue reads either.
	user, pass := r.FormValue("username"), r.FormValue("password")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Username == "" || user != s.cfg.Username || pass != s.cfg.Password {
		s.stats.Rejected++
		http.Error(w, "unknown user!", http.StatusForbidden)
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	s.tokens[tok] = s.cfg.Now().Add(s.cfg.TokenTTL)
	s.stats.Logins++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"accessToken": tok,
		"tokenTtl":    int64(s.cfg.TokenTTL / time.Second),
		"globalAdmin": false,
		"username":    user,
	})
}

// hostJSON is a host as the v1 API writes it.
type hostJSON struct {
	InstanceID  string            `json:"instanceId"`
	IP          string            `json:"ip"`
	Port        int               `json:"port"`
	Weight      float64           `json:"weight"`
	Healthy     bool              `json:"healthy"`
	Enabled     bool              `json:"enabled"`
	Ephemeral   bool              `json:"ephemeral"`
	ClusterName string            `json:"clusterName"`
	ServiceName string            `json:"serviceName"`
	Metadata    map[string]string `json:"metadata"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	if s.cfg.V1Disabled {
		// Nacos 3.x: InstanceController.list is an OPEN_API
		// compatibility endpoint, on unless
		// nacos.core.api.compatibility.client.enabled=false.
		s.gone(w, "GET /nacos/v3/client/ns/instance/list")
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastQuery = q
	if !s.authorizedLocked(w, r, q) {
		return
	}
	s.expireLocked()
	name := q.Get("serviceName")
	if name == "" {
		http.Error(w, "Param 'serviceName' is required.", http.StatusBadRequest)
		return
	}
	group := cmp.Or(q.Get("groupName"), "DEFAULT_GROUP")
	// ServiceNameFilter: a name without "@@" gets the group prepended; a
	// grouped name carries its own group.
	if g, n, ok := strings.Cut(name, "@@"); ok {
		group, name = g, n
	}
	ns := cmp.Or(q.Get("namespaceId"), "public")
	var clusters []string
	if c := q.Get("clusters"); c != "" {
		clusters = strings.Split(c, ",")
	}
	healthyOnly := q.Get("healthyOnly") == "true"

	var hosts []Host
	threshold := 0.0
	if svc := s.services[serviceKey{ns, group, name}]; svc != nil && !s.restarting {
		threshold = svc.threshold
		for _, h := range svc.hosts {
			if len(clusters) > 0 && !slices.Contains(clusters, h.Cluster) {
				continue
			}
			// The v1 list passes enabledOnly=true.
			if !h.Enabled {
				continue
			}
			hosts = append(hosts, h)
		}
	}
	out, reached := protect(hosts, threshold, healthyOnly)
	resp := struct {
		Name                     string     `json:"name"`
		GroupName                string     `json:"groupName"`
		Clusters                 string     `json:"clusters"`
		CacheMillis              int        `json:"cacheMillis"`
		Hosts                    []hostJSON `json:"hosts"`
		LastRefTime              int64      `json:"lastRefTime"`
		Checksum                 string     `json:"checksum"`
		AllIPs                   bool       `json:"allIPs"`
		ReachProtectionThreshold bool       `json:"reachProtectionThreshold"`
		Valid                    bool       `json:"valid"`
	}{
		Name:        group + "@@" + name,
		GroupName:   group,
		Clusters:    q.Get("clusters"),
		CacheMillis: 3000,
		Hosts:       make([]hostJSON, 0, len(out)),
		LastRefTime: s.cfg.Now().UnixMilli(),
		Valid:       true,

		ReachProtectionThreshold: reached,
	}
	for _, h := range out {
		meta := h.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		resp.Hosts = append(resp.Hosts, hostJSON{
			InstanceID:  fmt.Sprintf("%s#%d#%s#%s@@%s", h.IP, h.Port, h.Cluster, group, name),
			IP:          h.IP,
			Port:        h.Port,
			Weight:      h.Weight,
			Healthy:     h.Healthy,
			Enabled:     h.Enabled,
			Ephemeral:   h.Ephemeral,
			ClusterName: h.Cluster,
			ServiceName: group + "@@" + name,
			Metadata:    meta,
		})
	}
	s.stats.Lists++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// authorizedLocked checks the access token of a request when
// authentication is on, answering 403 as Nacos's AuthFilter does when it is
// missing, unknown or expired.
func (s *Server) authorizedLocked(w http.ResponseWriter, r *http.Request, q url.Values) bool {
	if s.cfg.Username == "" {
		return true
	}
	tok := cmp.Or(q.Get("accessToken"), r.Header.Get("accessToken"))
	exp, ok := s.tokens[tok]
	switch {
	case tok == "":
		s.stats.Rejected++
		http.Error(w, "user not found!", http.StatusForbidden)
		return false
	case !ok:
		s.stats.Rejected++
		http.Error(w, "token invalid!", http.StatusForbidden)
		return false
	case !s.cfg.Now().Before(exp):
		s.stats.Rejected++
		http.Error(w, "token expired!", http.StatusForbidden)
		return false
	}
	return true
}

// protect applies Nacos's protect threshold, as
// ServiceUtil.selectInstancesWithHealthyProtection does (Nacos 3.x):
//
//   - with healthyOnly, unhealthy hosts are dropped first and the ratio is
//     computed over what is left, so it is 1 (or 0/0, NaN) and protection
//     never fires: an all-unhealthy service answers empty;
//   - otherwise, when healthy/total <= threshold (note <=; a threshold
//     below 0 counts as 0), every host is returned, the unhealthy ones as
//     copies with healthy=true, and reachProtectionThreshold is set;
//   - otherwise every host is returned as it is, unhealthy ones included.
func protect(hosts []Host, threshold float64, healthyOnly bool) ([]Host, bool) {
	if healthyOnly {
		var kept []Host
		for _, h := range hosts {
			if h.Healthy {
				kept = append(kept, h)
			}
		}
		hosts = kept
	}
	threshold = max(threshold, 0)
	healthy := 0
	for _, h := range hosts {
		if h.Healthy {
			healthy++
		}
	}
	// In Java, (float) 0 / 0 is NaN and NaN <= t is false: an empty list
	// does not reach the threshold.
	if len(hosts) == 0 || float64(healthy)/float64(len(hosts)) > threshold {
		return hosts, false
	}
	out := make([]Host, len(hosts))
	for i, h := range hosts {
		h.Healthy = true
		out[i] = h
	}
	return out, true
}
