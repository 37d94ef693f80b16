package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/slo"
)

// The schema of duohuo.yaml. Each field carries, besides its yaml key:
//
//	doc:"…"       one sentence for the JSON Schema and docs/configuration.md
//	default:"…"   the value used when the key is absent (in the file's syntax)
//	enum:"a,b"    the allowed values of a string
//	min:"…" max:"…" the allowed range of a number, duration or size
//	required:"true" the key must be present
//
// Defaults are filled before a file is decoded, so an explicit zero ("attempts:
// 0") is kept. A section whose presence switches a feature on is a pointer
// (nil: off). Checks that involve more than one field live in the section's
// validate method. To add a section: add a struct here with these tags, a field
// on Config, and, if needed, a validate method; then run
// "go generate ./internal/config" to refresh the JSON Schema and the reference
// in docs/configuration.md.

// Config is a whole duohuo configuration file after defaults are filled and
// the file is validated. Get one from [Load], [Parse] or [Default]: the zero
// Config lacks the defaults. A Config returned by this package is not changed
// by it afterwards; callers that share one between goroutines must not modify
// it either.
type Config struct {
	Version      int           `yaml:"version" default:"1" min:"1" max:"1" doc:"Schema version of this file; only 1 exists."`
	Site         Site          `yaml:"site" doc:"Where this gateway runs; instances in the same zone, region and cloud are preferred, in that order."`
	Log          Log           `yaml:"log" doc:"Structured logging (log/slog) to standard error."`
	Admin        Admin         `yaml:"admin" doc:"The admin HTTP API (JSON and text) and the web console on /ui/ (docs/console.md): /healthz, /readyz, /metrics, /debug/pprof/, /v1/services, /v1/faults, /v1/gray/routes (docs/gray-release.md), /v1/ratelimits (docs/flow-control.md) and, with replication, /v1/kv/ and /v1/watch/ (docs/replication.md)."`
	Crypto       Crypto        `yaml:"crypto" doc:"Which protocols TLS listeners serve: TLS 1.2/1.3, TLCP (GB/T 38636, SM2/SM3/SM4) or both on one port (docs/gm.md)."`
	Metrics      Metrics       `yaml:"metrics" doc:"Prometheus metrics served on the admin listener at /metrics."`
	Listeners    []Listener    `yaml:"listeners" doc:"Where the gateway accepts client traffic. Every route is served on every listener."`
	Services     []Service     `yaml:"services" doc:"The upstream services: where their instances come from and how they are picked."`
	Discovery    Discovery     `yaml:"discovery" doc:"How the instances that every service's sources report are merged (docs/discovery.md)."`
	Replication  *Replication  `yaml:"replication" doc:"Run a replica of the multi-site state (CRDTs, package replica) and serve it on the admin API (/v1/kv); absent means none."`
	Registration *Registration `yaml:"registration" doc:"Register this gateway in a registry (etcd, Nacos or Consul) once it serves, so that its own clients discover it, and deregister it first on shutdown (docs/discovery.md, Self-registration); absent means none."`
	Gray         Gray          `yaml:"gray" doc:"Traffic color for gray lanes: where it travels and whom to believe about it. Routes split traffic with their own gray section."`
	Faults       Faults        `yaml:"faults" doc:"Fault injection (delays, aborts) for drills; off unless rules are given. Changeable at run time on the admin API (/v1/faults)."`
	Routes       []Route       `yaml:"routes" doc:"How a request is matched to a service, first match wins, in file order."`
	RateLimits   []RateLimit   `yaml:"rate_limits" doc:"Local flow control: limits on the requests of routes, as a whole or per key (token bucket, sliding window, concurrency), applied after routing (docs/flow-control.md). Shown on the admin API (/v1/ratelimits)."`
	SLO          *SLO          `yaml:"slo" doc:"Service level objectives evaluated in the gateway: availability and latency SLIs per route and cloud, burn-rate alerts and a health score per service and cloud, on /metrics (duohuo_slo_*) and /v1/health (docs/observability.md); absent means none are kept."`
	Tracing      *Tracing      `yaml:"tracing" doc:"OpenTelemetry traces over OTLP: a span per request and per upstream attempt, with the routing decisions as duohuo.* attributes (docs/observability.md, Traces); absent means no tracing and no cost. Read at start: a reload does not change it."`

	// Warnings are the settings of the file that are valid but do not do
	// what their documentation says yet, each with its place and a
	// message that starts with "warning: ", sorted by place; nil when
	// there are none. They do not make the file invalid: duohuo validate
	// prints them after "FILE: ok", and duohuo serve logs them when it
	// loads the file. Not a key of the file.
	Warnings Errors `yaml:"-" json:"-"`
}

func (c *Config) setWarnings(w Errors) { c.Warnings = w }

// Discovery holds the settings of the merge of every source's reports.
type Discovery struct {
	DropGuard DropGuard `yaml:"drop_guard" doc:"Hold a sudden loss of many of a service's instances from one source until it is confirmed, so that a registry in trouble answering empty lists cannot empty the gateway (docs/discovery.md, Drop guard)."`
}

// DropGuard configures the aggregator's drop guard.
type DropGuard struct {
	Share   Percent  `yaml:"share" default:"50%" min:"0" max:"100" doc:"A report that takes away more than this share of the instances a source had for a service is held: the previous instances keep serving until the drop is confirmed. 0% turns the guard off (every report applies at once)."`
	Reports int      `yaml:"reports" default:"2" min:"1" max:"1000" doc:"A held drop is confirmed by this many consecutive reports that keep it, the first included."`
	After   Duration `yaml:"after" default:"30s" min:"1s" doc:"A held drop is confirmed once it has lasted this long, whatever the number of reports."`
}

// Site says where this gateway runs. A zone needs a region and a region needs a
// cloud, because locality compares them in that order.
type Site struct {
	Cloud  string `yaml:"cloud" doc:"Cloud this gateway runs in, e.g. ctyun, ecloud, huawei."`
	Region string `yaml:"region" doc:"Region within the cloud, e.g. cn-north-1."`
	Zone   string `yaml:"zone" doc:"Availability zone within the region, e.g. cn-north-1a."`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level" default:"info" enum:"debug,info,warn,error" doc:"Lowest level written."`
	Format string `yaml:"format" default:"text" enum:"text,json" doc:"text for people, json for log collectors."`
}

// Admin configures the admin API. It listens on loopback by default because it
// can change routing; listening anywhere else requires a token.
type Admin struct {
	Listen        string   `yaml:"listen" default:"127.0.0.1:9900" doc:"host:port of the admin API; loopback unless a token is set. A reload that changes it binds the new address before closing the old one, and is refused if the new address cannot be bound."`
	Token         string   `yaml:"token" doc:"Bearer token required on every admin request; write ${DUOHUO_ADMIN_TOKEN} to keep it out of the file. Required when listen is not a loopback address. A reload applies a new token at once and refuses the old one."`
	ReadOnlyToken string   `yaml:"read_only_token" doc:"A second bearer token that may read the admin API and the web console (GET) but not change anything; needs token and must differ from it. Write ${DUOHUO_ADMIN_READ_ONLY_TOKEN} to keep it out of the file."`
	Hosts         []string `yaml:"hosts" doc:"Further host names (without port) that a request without a token may give in its Host header, besides localhost, loopback addresses and the listen host; any other is refused with 403 against DNS rebinding (docs/security.md)."`
}

// Crypto chooses between the international and the national (GM)
// cryptography on listeners; see gm.go for its checks.
type Crypto struct {
	Suites string `yaml:"suites" default:"auto" enum:"auto,gm,international" doc:"auto: a listener serves TLS 1.2/1.3 with cert_file and TLCP with the sign_/enc_ double certificate, both on one port when it has both (each client's ClientHello decides); gm: listeners serve only TLCP and must have the double certificate; international: listeners serve only TLS and must not have one. Upstream connections speak TLS 1.2/1.3 whatever this says."`
}

// Metrics configures what the Prometheus endpoint exports.
type Metrics struct {
	InstanceLabels InstanceLabels `yaml:"instance_labels" default:"true" doc:"Label per-instance series with the instance address: false, true (at most 256 instances), or the largest number of distinct instances; beyond it series fold into instance=\"other\"."`
}

// Listener is one address where clients connect.
type Listener struct {
	Name   string `yaml:"name" required:"true" doc:"Unique name, used in metrics and logs."`
	Listen string `yaml:"listen" required:"true" doc:"host:port to listen on; an empty host means every interface."`
	// Go's http.Server has no header deadline unless asked: a slow client
	// could hold a connection forever (slowloris).
	ReadHeaderTimeout Duration `yaml:"read_header_timeout" default:"10s" doc:"Time to read a request's headers; bounds slow clients (slowloris). 0s leaves headers to read_timeout (none when that is 0s too), as Go's http.Server does."`
	ReadTimeout       Duration `yaml:"read_timeout" default:"0s" doc:"Time to read a whole request including its body; 0 means none, as uploads may be long and the route timeout applies."`
	WriteTimeout      Duration `yaml:"write_timeout" default:"0s" doc:"Time to write a response; 0 means none, since the route timeout already bounds the upstream call and streaming responses must not be cut."`
	// Go's http.Transport closes idle connections after 90s; a server that
	// waits longer lets the client close first, avoiding the race where a
	// request is sent on a connection the server is closing.
	IdleTimeout    Duration `yaml:"idle_timeout" default:"120s" doc:"How long an idle keep-alive connection is kept; longer than Go clients' 90s so that they close first. 0s falls back to read_timeout (none when that is 0s too), as Go's http.Server does."`
	MaxHeaderBytes Size     `yaml:"max_header_bytes" default:"64KiB" min:"1KiB" max:"16MiB" doc:"Largest request head, request line and header fields, in bytes; a larger one is answered 431 and its connection closed. Envoy's default is 60 KiB."`
	// The process's file descriptors are shared by every listener, the
	// admin API and the upstream connections: a listener that takes them
	// all starves the rest (docs/security.md, "Listener limits").
	MaxConnections int `yaml:"max_connections" default:"0" min:"0" max:"10000000" doc:"Most client connections open at once on this listener; one beyond it is accepted and closed at once, and counted in duohuo_connections_refused_total. 0 means automatic: half of the process's open-file limit less 512, shared among the listeners left at 0, and at least 64 each."`
	// nginx's http2_max_concurrent_streams is 128; each stream is a
	// request in progress, and a bound per connection keeps one client
	// from holding the gateway's handlers (and a rapid-reset flood from
	// making them faster than they end).
	HTTP2MaxConcurrentStreams int  `yaml:"http2_max_concurrent_streams" default:"128" min:"1" max:"10000" doc:"Most requests in progress at once on one HTTP/2 connection (h2 and h2c); the header list of each is bounded by max_header_bytes and its compression table by 4 KiB."`
	TLS                       *TLS `yaml:"tls" doc:"Serve TLS 1.2/1.3 with cert_file, TLCP (GB/T 38636) with the sign_/enc_ double certificate, or both on this one port (crypto.suites); absent means plain TCP."`
	// Trust no one by default, as nginx's set_real_ip_from and Envoy's
	// xff_num_trusted_hops (0) do: a listener at the edge faces clients
	// that write whatever they like.
	TrustedProxies []string `yaml:"trusted_proxies" doc:"CIDRs (or addresses) of the proxies in front of this listener whose X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, Forwarded, X-Real-IP and X-Request-Id are kept (X-Forwarded-For and Forwarded get this hop appended); from any other peer they are replaced with what the gateway sees (docs/security.md). Empty trusts no one; add 127.0.0.1 for a TLS terminator on the same host."`
	ErrorDetail    string   `yaml:"error_detail" default:"code" enum:"code,full" doc:"What an answer the gateway made itself says in X-Duohuo-Error and its body: code, a short reason code such as no_healthy_instance (the details go to the debug log, and the services' state is on the admin API); full, the reason with its details (service, lane), for listeners only your own systems reach."`
}

// TLS names the certificates of a listener, in PEM files: an international
// one (cert_file, key_file) for TLS 1.2/1.3, a GM double certificate (sign_,
// enc_) for TLCP, or both. Relative paths are relative to the configuration
// file's directory.
type TLS struct {
	CertFile     string `yaml:"cert_file" doc:"PEM certificate chain for TLS 1.2/1.3; needs key_file."`
	KeyFile      string `yaml:"key_file" doc:"PEM private key of cert_file."`
	SignCertFile string `yaml:"sign_cert_file" doc:"TLCP signing certificate (SM2), PEM chain; with sign_key_file, enc_cert_file and enc_key_file the listener serves TLCP (duohuo gm cert makes them)."`
	SignKeyFile  string `yaml:"sign_key_file" doc:"PEM SM2 private key of sign_cert_file (PKCS #8 or SEC 1)."`
	EncCertFile  string `yaml:"enc_cert_file" doc:"TLCP encryption certificate (SM2), PEM; the key exchange uses it."`
	EncKeyFile   string `yaml:"enc_key_file" doc:"PEM SM2 private key of enc_cert_file."`
}

// Service is one upstream service.
type Service struct {
	Name      string            `yaml:"name" required:"true" doc:"Unique name that routes refer to."`
	Balancer  string            `yaml:"balancer" default:"peak_ewma" enum:"peak_ewma,p2c_ewma,least_request,round_robin" doc:"How an instance is picked within a locality: peak_ewma (power of two choices on peak-EWMA latency, as Finagle and Linkerd; p2c_ewma is another name for it), least_request, or smooth weighted round_robin."`
	Locality  Locality          `yaml:"locality" doc:"When traffic spills from the nearest locality to the next."`
	Discovery []DiscoverySource `yaml:"discovery" required:"true" doc:"Where instances come from; the sources' answers are merged and de-duplicated by address."`
	Health    Health            `yaml:"health" doc:"How unhealthy instances are found and taken out of rotation."`
	Upstream  Upstream          `yaml:"upstream" doc:"Connections from the gateway to the instances."`
	Breaker   Breaker           `yaml:"breaker" doc:"Circuit breaker in front of each instance: an instance whose breaker is open gets no attempts until its probes succeed."`
}

// Locality sets the spill rules between locality tiers (same zone, same
// region, same cloud, other clouds), with Envoy's semantics.
type Locality struct {
	OverprovisioningFactor float64 `yaml:"overprovisioning_factor" default:"1.4" min:"1" max:"10" doc:"A tier takes all its traffic while healthy share × factor ≥ 100%; with 1.4 (Envoy's default) it starts to spill below 72% healthy."`
	PanicThreshold         Percent `yaml:"panic_threshold" default:"50%" min:"0" max:"100" doc:"Below this healthy share in every tier, route to all instances, healthy or not, rather than overload the few left (Envoy's default 50%); 0 disables panic mode."`
}

// DiscoverySource is one source of instances: exactly one of Static, File,
// DNS, Nacos, Consul and Kubernetes is set.
type DiscoverySource struct {
	Static     *StaticSource     `yaml:"static" doc:"Instances listed in this file."`
	File       *FileSource       `yaml:"file" doc:"Instances listed in another file, re-read when it changes."`
	DNS        *DNSSource        `yaml:"dns" doc:"Instances from DNS SRV or A/AAAA records, re-resolved as their TTL expires."`
	Nacos      *NacosSource      `yaml:"nacos" doc:"Instances of a Nacos service, polled over the HTTP open API (docs/discovery.md)."`
	Consul     *ConsulSource     `yaml:"consul" doc:"Instances of a Consul service, followed with blocking queries (docs/discovery.md)."`
	Kubernetes *KubernetesSource `yaml:"kubernetes" doc:"Endpoints of a Kubernetes Service, followed through its EndpointSlices (docs/discovery.md)."`
}

// StaticSource lists instances inline.
type StaticSource struct {
	Instances []StaticInstance `yaml:"instances" required:"true" doc:"The instances."`
}

// StaticInstance is one instance written in the configuration.
type StaticInstance struct {
	Addr   string            `yaml:"addr" required:"true" doc:"ip:port of the instance; use a dns source for host names."`
	Weight int               `yaml:"weight" default:"100" min:"0" max:"10000" doc:"Relative weight; 0 drains the instance. Default and range as in Polaris."`
	Cloud  string            `yaml:"cloud" doc:"Cloud the instance runs in."`
	Region string            `yaml:"region" doc:"Region the instance runs in."`
	Zone   string            `yaml:"zone" doc:"Zone the instance runs in."`
	Labels map[string]string `yaml:"labels" doc:"Free labels (version, lane, …) that gray rules select on."`
}

// FileSource reads instances from a file of the form
// "instances: [{addr: …, weight: …}]", with the fields of a static instance.
type FileSource struct {
	Path string `yaml:"path" required:"true" doc:"YAML or JSON file of instances, re-read when it changes; relative to this file's directory."`
}

// DNSSource resolves instances from DNS.
type DNSSource struct {
	Name     string   `yaml:"name" required:"true" doc:"Name to resolve, e.g. _http._tcp.api.example.com for SRV."`
	Type     string   `yaml:"type" default:"srv" enum:"srv,a,aaaa" doc:"srv takes port and weight from the records; a and aaaa need port."`
	Port     int      `yaml:"port" min:"0" max:"65535" doc:"Port of the instances for a and aaaa records."`
	Resolver string   `yaml:"resolver" doc:"host:port of the DNS server; default the system resolver (/etc/resolv.conf)."`
	MinTTL   Duration `yaml:"min_ttl" default:"5s" min:"100ms" doc:"Re-resolve no more often than this, whatever the records' TTL, to bound load on the resolver."`
	Cloud    string   `yaml:"cloud" doc:"Cloud given to every answer."`
	Region   string   `yaml:"region" doc:"Region given to every answer."`
	Zone     string   `yaml:"zone" doc:"Zone given to every answer."`
}

// NacosSource follows one Nacos service (Nacos 2.x and 3.x) with the HTTP
// open API GET /nacos/v1/ns/instance/list. Secrets are never written in the
// file: password_env names a variable, password_file a file.
type NacosSource struct {
	Servers      []string     `yaml:"servers" required:"true" doc:"Nacos servers, tried in order: 10.0.0.1:8848, http://nacos-1:8848, https://nacos.example.com/nacos; the scheme defaults to http, the port to 8848, the context path to /nacos."`
	Namespace    string       `yaml:"namespace" default:"public" doc:"Namespace ID."`
	Group        string       `yaml:"group" default:"DEFAULT_GROUP" doc:"Group of the service."`
	Name         string       `yaml:"name" doc:"Nacos service name; empty means the duohuo service's name."`
	Clusters     []string     `yaml:"clusters" doc:"Only the instances of these Nacos clusters; empty means every cluster."`
	Username     string       `yaml:"username" doc:"Log in with this user (POST /nacos/v1/auth/login); empty means no login."`
	PasswordEnv  string       `yaml:"password_env" doc:"Environment variable that holds the password; needs username, excludes password_file."`
	PasswordFile string       `yaml:"password_file" doc:"File whose content (trailing newline removed) is the password; relative to this file's directory; needs username, excludes password_env."`
	Interval     Duration     `yaml:"interval" default:"10s" min:"1s" max:"10m" doc:"Time between two reads of the instance list, plus up to a tenth of jitter; a change shows within it."`
	Timeout      Duration     `yaml:"timeout" default:"5s" min:"1ms" doc:"Deadline of one request (login or list) to one server; the next server is asked after it."`
	EmptyGrace   Duration     `yaml:"empty_grace" default:"60s" min:"1s" doc:"How long the servers must keep listing no instance of a service that had some before that is believed; meanwhile the last instances serve (a restarting Nacos member lists nothing until its data is back)."`
	Cloud        string       `yaml:"cloud" doc:"Cloud given to every instance whose metadata does not name one."`
	Region       string       `yaml:"region" doc:"Region given to every instance whose metadata does not name one."`
	Zone         string       `yaml:"zone" doc:"Zone given to every instance whose metadata does not name one."`
	LocalityKeys LocalityKeys `yaml:"locality_keys" doc:"Instance metadata keys that hold an instance's locality."`
	TLS          *UpstreamTLS `yaml:"tls" doc:"How https servers are verified: true or absent uses the system's roots, a section names the CA, server name and client certificate."`
}

// ConsulSource follows one Consul service with blocking queries on
// /v1/health/service/NAME. The ACL token is never written in the file:
// token_env names a variable, token_file a file.
type ConsulSource struct {
	Servers      []string     `yaml:"servers" default:"[127.0.0.1:8500]" doc:"Consul HTTP addresses, usually the local agent, tried in order: 127.0.0.1:8500, https://consul.service:8501; the scheme defaults to http, the port to 8500."`
	Name         string       `yaml:"name" doc:"Consul service name; empty means the duohuo service's name."`
	Datacenter   string       `yaml:"datacenter" doc:"Datacenter to ask about (?dc=); empty means the agent's own."`
	Tags         []string     `yaml:"tags" doc:"Only the instances that carry every one of these tags; empty means all."`
	OnlyPassing  bool         `yaml:"only_passing" doc:"Leave out instances whose checks are in the warning state; false keeps them with their warning weight. Critical instances are always left out."`
	Stale        bool         `yaml:"stale" doc:"Let any Consul server answer (?stale), not only the leader: spreads the load and answers without a leader, with data that may lag."`
	TokenEnv     string       `yaml:"token_env" doc:"Environment variable that holds the ACL token (needs service:read and node:read); excludes token_file. Neither: the agent's default token."`
	TokenFile    string       `yaml:"token_file" doc:"File whose content (trailing newline removed) is the ACL token; relative to this file's directory; excludes token_env."`
	Wait         Duration     `yaml:"wait" default:"60s" min:"1s" max:"10m" doc:"How long one blocking query may wait for a change (?wait=)."`
	Timeout      Duration     `yaml:"timeout" default:"10s" min:"1ms" doc:"How long an answer may take beyond wait and Consul's jitter (wait/16); the next server is asked after it."`
	RateInterval Duration     `yaml:"rate_interval" default:"5s" min:"10ms" doc:"Refill interval of the token bucket (burst 2) that paces queries when the service keeps changing; a deregistered instance may get traffic this long after the change."`
	Cloud        string       `yaml:"cloud" doc:"Cloud given to every instance whose meta does not name one."`
	Region       string       `yaml:"region" doc:"Region given to every instance whose meta does not name one."`
	Zone         string       `yaml:"zone" doc:"Zone given to every instance whose meta does not name one."`
	LocalityKeys LocalityKeys `yaml:"locality_keys" doc:"Service meta keys (then node meta keys) that hold an instance's locality; service meta wins."`
	TLS          *UpstreamTLS `yaml:"tls" doc:"How https servers are verified: true or absent uses the system's roots, a section names the CA, server name and client certificate."`
}

// KubernetesSource follows the EndpointSlices (discovery.k8s.io/v1) of one
// Kubernetes Service.
type KubernetesSource struct {
	Name         string   `yaml:"name" doc:"Name of the Kubernetes Service; empty means the duohuo service's name."`
	Namespace    string   `yaml:"namespace" doc:"Namespace of the Service; empty means the gateway pod's own namespace in a cluster, else the kubeconfig context's, else default."`
	Port         string   `yaml:"port" doc:"Port of the endpoints: a port name of the Service (http) or a number (8080); empty needs its slices to have exactly one port."`
	Kubeconfig   string   `yaml:"kubeconfig" doc:"kubeconfig file, relative to this file's directory; empty means the pod's service account in a cluster, else $KUBECONFIG or ~/.kube/config."`
	Context      string   `yaml:"context" doc:"kubeconfig context to use; empty means its current context."`
	NodeLocality bool     `yaml:"node_locality" doc:"Take each endpoint's region (node label topology.kubernetes.io/region), its zone when the endpoint has none, and with cloud_label its cloud from its node's labels; needs list and watch on nodes."`
	CloudLabel   string   `yaml:"cloud_label" doc:"Node label that holds the cloud, with node_locality; empty means the cloud setting."`
	Resync       Duration `yaml:"resync" default:"10m" min:"1m" doc:"How often every slice is handed to the source again, which recomputes the instances: a safety net; changes arrive through the watch at once."`
	Cloud        string   `yaml:"cloud" doc:"Cloud given to every endpoint (node_locality and cloud_label override it)."`
	Region       string   `yaml:"region" doc:"Region given to every endpoint (node_locality overrides it)."`
	Zone         string   `yaml:"zone" doc:"Zone given to endpoints whose slice names none."`
}

// LocalityKeys name the registry metadata keys that hold an instance's
// cloud, region and zone; what they say overrides the source's own cloud,
// region and zone, field by field.
type LocalityKeys struct {
	Cloud  string `yaml:"cloud" default:"cloud" doc:"Metadata key of the instance's cloud."`
	Region string `yaml:"region" default:"region" doc:"Metadata key of the instance's region."`
	Zone   string `yaml:"zone" default:"zone" doc:"Metadata key of the instance's zone."`
}

// Health configures active probing and passive outlier detection.
type Health struct {
	Active  ActiveHealth `yaml:"active" doc:"Probe every instance periodically; on by default with TCP connects (type none turns probing off and leaves only passive outlier detection)."`
	Outlier Outlier      `yaml:"outlier" doc:"Eject instances whose real traffic fails; on by default with Envoy's defaults."`
}

// ActiveHealth is a periodic probe.
type ActiveHealth struct {
	Type               string        `yaml:"type" default:"tcp" enum:"tcp,http,grpc,none" doc:"tcp only connects (the default without path); http sends GET path and checks the status (the default with path); grpc calls grpc.health.v1.Health/Check; none turns active probing off."`
	Path               string        `yaml:"path" doc:"Path probed by http checks; required for type http."`
	GRPCService        string        `yaml:"grpc_service" doc:"Service name sent in gRPC health checks; empty asks about the server as a whole."`
	ExpectedStatus     []StatusRange `yaml:"expected_status" default:"[200]" doc:"Statuses that count as healthy for http checks: any of the listed statuses (200), ranges (200-399) and classes (2xx); a status outside all of them fails the probe. An empty list means any 2xx."`
	Interval           Duration      `yaml:"interval" default:"5s" min:"100ms" doc:"Time between probes (Nacos heartbeats every 5s)."`
	Timeout            Duration      `yaml:"timeout" default:"1s" min:"1ms" doc:"Deadline of one probe (APISIX's default); must be below interval."`
	HealthyThreshold   int           `yaml:"healthy_threshold" default:"2" min:"1" max:"100" doc:"Consecutive successes that return an instance to rotation."`
	UnhealthyThreshold int           `yaml:"unhealthy_threshold" default:"3" min:"1" max:"100" doc:"Consecutive failures that take an instance out; more than one so a single lost probe does not eject (Traefik PR #13387)."`
	Jitter             Duration      `yaml:"jitter" default:"500ms" doc:"Random extra delay, up to this, added to each interval so that gateways do not probe in lockstep; 0s: none."`
}

// Outlier configures passive outlier detection, with the defaults of Envoy's
// outlier_detection.proto.
type Outlier struct {
	Consecutive5xx             int          `yaml:"consecutive_5xx" default:"5" min:"0" max:"1000" doc:"Eject after this many 5xx responses in a row (Envoy default 5); 0 disables."`
	ConsecutiveGatewayFailures int          `yaml:"consecutive_gateway_failures" default:"5" min:"0" max:"1000" doc:"Eject after this many connect failures, resets or timeouts in a row (Envoy default 5); 0 disables."`
	MaxGatewayEjectionPercent  Percent      `yaml:"max_gateway_ejection_percent" default:"100%" min:"0" max:"100" doc:"Cap on ejections by consecutive_gateway_failures, which max_ejection_percent does not cap: an instance that cannot be reached serves nobody, and a cloud that goes silent must leave whole; panic mode keeps a service from being emptied. 0% still lets one instance at a time be ejected, as every cap here does."`
	Interval                   Duration     `yaml:"interval" default:"10s" min:"100ms" doc:"Time between sweeps of the success-rate detector and ejection expiries (Envoy default 10s)."`
	BaseEjectionTime           Duration     `yaml:"base_ejection_time" default:"30s" min:"1ms" doc:"An ejection lasts this times the number of times the instance was ejected (Envoy default 30s)."`
	MaxEjectionTime            Duration     `yaml:"max_ejection_time" default:"300s" min:"1ms" doc:"Cap on one ejection (Envoy default 300s)."`
	MaxEjectionPercent         Percent      `yaml:"max_ejection_percent" default:"10%" min:"0" max:"100" doc:"Never let the 5xx and success-rate detectors eject more than this share of the instances at once (Envoy default 10%), or one instance when the share is less; 0% turns them off. Gateway failures have their own cap, max_gateway_ejection_percent."`
	SuccessRate                *SuccessRate `yaml:"success_rate" doc:"Also eject instances whose success rate is far below their peers'; absent means off."`
}

// SuccessRate is the statistical outlier detector: an instance is ejected
// when its success rate is below mean − stdev_factor × stdev of its peers'.
type SuccessRate struct {
	MinimumHosts  int     `yaml:"minimum_hosts" default:"5" min:"1" doc:"Only run when at least this many instances have enough requests (Envoy default 5)."`
	RequestVolume int     `yaml:"request_volume" default:"100" min:"1" doc:"Requests an instance needs in one interval to be judged (Envoy default 100)."`
	StdevFactor   float64 `yaml:"stdev_factor" default:"1.9" min:"0.1" max:"10" doc:"How many standard deviations below the mean ejects (Envoy default 1.9)."`
}

// Upstream configures the connection pool to a service's instances.
type Upstream struct {
	Protocol string `yaml:"protocol" default:"auto" enum:"auto,http1,h2c,h2" doc:"How the gateway speaks to instances: http1; h2c (HTTP/2 in clear text, prior knowledge); h2 (HTTP/2 over TLS by ALPN, needs tls); auto sends gRPC calls over HTTP/2 (h2c in clear, h2 with tls) and everything else over HTTP/1.1 (or what ALPN agrees with tls)."`
	// A connect inside one cloud takes well under a millisecond and across
	// clouds tens of milliseconds; a SYN that gets no answer for a second
	// was most likely dropped, and the attempt is better sent elsewhere.
	DialTimeout             Duration     `yaml:"dial_timeout" default:"1s" min:"1ms" doc:"Deadline to connect to an instance; short, so that an attempt on an unreachable instance goes elsewhere quickly (Envoy's default is 5s)."`
	TLSHandshakeTimeout     Duration     `yaml:"tls_handshake_timeout" default:"10s" min:"1ms" doc:"Deadline of the TLS handshake (Go's http.DefaultTransport)."`
	ResponseHeaderTimeout   Duration     `yaml:"response_header_timeout" default:"0s" doc:"Deadline for response headers after the request is written; 0 means none beyond the route timeout."`
	IdleConnTimeout         Duration     `yaml:"idle_conn_timeout" default:"90s" doc:"Idle keep-alive connections are closed after this (Go's http.DefaultTransport); 0s keeps them until the instance closes them."`
	MaxIdleConnsPerInstance int          `yaml:"max_idle_conns_per_instance" default:"64" min:"0" max:"100000" doc:"Idle HTTP/1.1 connections kept per instance; Go's default of 2 is too small for a proxy and forces new connections under load. 0 keeps none: every HTTP/1.1 request opens a new connection, and auto then speaks HTTP/1.1 over tls too for all but gRPC. HTTP/2 connections are kept whatever this says."`
	TLS                     *UpstreamTLS `yaml:"tls" doc:"Connect to instances with TLS 1.2/1.3, or TLCP with tlcp: true: true verifies their certificates against the system's roots, a section says which CA, server name and client certificate to use; false or absent means clear text. http and grpc health checks speak TLS (or TLCP) with the same settings."`
}

// UpstreamTLS is how the gateway speaks TLS to a service's instances, for
// requests and for health checks. In the file, upstream.tls is true (this
// section with its defaults), false (no TLS) or this section. Relative
// paths are relative to the configuration file's directory; the files are
// read when the file is loaded (and checked then, with their place) and
// when the service is built.
type UpstreamTLS struct {
	CAFile             string `yaml:"ca_file" doc:"PEM file of the CA certificates that verify the instances' certificates; empty means the system's roots."`
	ServerName         string `yaml:"server_name" doc:"Name the instances' certificates must be valid for, also sent in SNI; empty means the instance's IP address, which its certificate must then list."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" doc:"Accept any certificate the instances present, unverified: for tests only, since anyone on the path can then read and change the traffic."`
	CertFile           string `yaml:"cert_file" doc:"PEM certificate chain the gateway presents to instances that ask for one (mutual TLS); needs key_file."`
	KeyFile            string `yaml:"key_file" doc:"PEM private key of cert_file."`
	TLCP               bool   `yaml:"tlcp" doc:"Speak TLCP (GB/T 38636: SM2, SM3, SM4) to the instances instead of TLS: ca_file is then the SM2 CA that signed their signing certificates, and sign_cert_file with the enc_ files the gateway's own double certificate for instances that ask for one. TLCP connections carry HTTP/1.1: not h2, h2c or gRPC (docs/gm.md)."`
	SignCertFile       string `yaml:"sign_cert_file" doc:"With tlcp: the gateway's TLCP signing certificate (SM2, PEM chain) for instances that authenticate clients; needs sign_key_file."`
	SignKeyFile        string `yaml:"sign_key_file" doc:"PEM SM2 private key of sign_cert_file."`
	EncCertFile        string `yaml:"enc_cert_file" doc:"With tlcp: the gateway's TLCP encryption certificate (SM2, PEM), which the ECDHE suites need besides the signing one; needs enc_key_file and sign_cert_file."`
	EncKeyFile         string `yaml:"enc_key_file" doc:"PEM SM2 private key of enc_cert_file."`
}

// GMFiles reports whether t names any file of a TLCP double certificate.
func (t *UpstreamTLS) GMFiles() bool {
	return t.SignCertFile != "" || t.SignKeyFile != "" || t.EncCertFile != "" || t.EncKeyFile != ""
}

// ClientConfig reads t's files and returns the TLS configuration of
// connections to the instances (TLS 1.2 at least). Paths are used as they
// are: [Load] has made them absolute. A nil t returns nil, nil: no TLS.
func (t *UpstreamTLS) ClientConfig() (*tls.Config, error) {
	cfg, _, err := t.clientConfig(func(p string) string { return p })
	return cfg, err
}

// clientConfig is ClientConfig with paths resolved by abs; on error it
// also returns the key whose file is at fault.
func (t *UpstreamTLS) clientConfig(abs func(string) string) (*tls.Config, string, error) {
	if t == nil {
		return nil, "", nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	if t.CAFile != "" {
		path := abs(t.CAFile)
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, "ca_file", fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "ca_file", fmt.Errorf("%s holds no PEM certificate", path)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		certPEM, err := os.ReadFile(abs(t.CertFile))
		if err != nil {
			return nil, "cert_file", fmt.Errorf("read client certificate: %w", err)
		}
		if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
			return nil, "cert_file", fmt.Errorf("%s does not start with a PEM certificate", abs(t.CertFile))
		}
		keyPEM, err := os.ReadFile(abs(t.KeyFile))
		if err != nil {
			return nil, "key_file", fmt.Errorf("read client key: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, "key_file", fmt.Errorf("client key %s with certificate %s: %w", abs(t.KeyFile), abs(t.CertFile), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, "", nil
}

func (t *UpstreamTLS) validate(c *checker, path string) {
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		c.errorf(join(path, "key_file"), "is required with cert_file: the client certificate's private key")
		return
	case t.KeyFile != "" && t.CertFile == "":
		c.errorf(join(path, "cert_file"), "is required with key_file: the client certificate")
		return
	case t.InsecureSkipVerify && t.CAFile != "":
		c.errorf(join(path, "ca_file"), "has no use with insecure_skip_verify, which verifies nothing: remove one of them")
		return
	}
	abs := func(p string) string {
		if p != "" && !filepath.IsAbs(p) && c.d.dir != "" {
			return filepath.Join(c.d.dir, p)
		}
		return p
	}
	if t.TLCP || t.GMFiles() {
		t.validateGM(c, path, abs)
		return
	}
	_, key, err := t.clientConfig(abs)
	if err != nil {
		c.errorf(join(path, key), "%v", err)
	}
}

// Route sends matching requests to a service.
type Route struct {
	Name    string   `yaml:"name" required:"true" doc:"Unique name, used in metrics and logs."`
	Match   Match    `yaml:"match" doc:"Which requests this route takes; absent keys match everything."`
	Service string   `yaml:"service" required:"true" doc:"Name of the service that serves the route."`
	Timeout Duration `yaml:"timeout" default:"15s" doc:"Deadline for the response head, retries included, counted from when the request has been sent whole (Envoy's route timeout default 15s); it does not cut a response body that is streaming. 0 means none."`
	// nginx's proxy_read_timeout and client_body_timeout are 60s.
	StreamIdleTimeout Duration    `yaml:"stream_idle_timeout" default:"60s" doc:"Cut a request or response body that sends nothing for this long (a silent upstream mid-body, a stalled upload); 0 means none."`
	MaxDuration       Duration    `yaml:"max_duration" default:"0s" doc:"Limit on the whole exchange, body transfer included; 0 means none, so that downloads and streams of any length complete."`
	Retry             Retry       `yaml:"retry" doc:"Retries on another instance when an attempt fails."`
	Hedge             *Hedge      `yaml:"hedge" doc:"Hedged requests: when an idempotent request whose body can be sent again has no answer after the route's recent latency percentile, send it to another instance too and take the first answer; absent means off (the adaptive per-try timeout still hedges silent attempts). These hedges have a budget of their own: at most 10% of requests plus 1 per second."`
	Breaker           *Breaker    `yaml:"breaker" doc:"Circuit breaker for the whole route; absent means none. While it is open, requests go straight to the fallback."`
	Gray              *GrayPolicy `yaml:"gray" doc:"Gray release: split the route's traffic among subsets of the service's instances by rules, user hash and weights; absent means every instance serves. Changeable at run time on the admin API (/v1/gray)."`
	Fallback          *Fallback   `yaml:"fallback" doc:"What to answer when every try failed, no instance is available or the route's breaker is open; absent means the error itself (502, 503 or 504)."`
	EscapedPath       string      `yaml:"escaped_path" default:"reject" enum:"reject,keep,unescape" doc:"What to do with a path that spells a slash, backslash or dot percent-encoded (%2F, %5C, %2E) or holds a backslash, as Envoy's path_with_escaped_slashes_action: reject answers 400; keep forwards the escapes as sent (for backends that treat %2F as part of a segment), refusing a path whose escapes hide a dot segment (..%2F); unescape forwards the decoded path the route matched. Matching always uses the decoded path without dot segments (docs/security.md)."`
	Upgrades          []string    `yaml:"upgrades" default:"[websocket]" doc:"Upgrade tokens (RFC 9110, section 7.8) whose 101 Switching Protocols answer is tunnelled; a request asking for another is forwarded without its Upgrade header, as a plain request. h2c is never forwarded (HTTP/2 from clients is served by the listener itself). Empty tunnels nothing."`
	// TRACE echoes the request back, cookies and credentials included
	// (cross-site tracing): off unless a route needs it.
	RequestBuffering RequestBuffering `yaml:"request_buffering" doc:"Read request bodies whole before an instance is chosen, as nginx's proxy_request_buffering does: a slow client then holds no upstream connection, and an idempotent request with a body can be retried."`
	AllowTrace       bool             `yaml:"allow_trace" doc:"Forward TRACE requests; false (default) answers them 405. Either way a TRACE or OPTIONS with Max-Forwards: 0 is answered by the gateway and a higher Max-Forwards is decremented (docs/security.md)."`
}

// RequestBuffering says which request bodies a route reads whole before it
// sends them on. gRPC calls and protocol upgrades are never buffered: they
// may stream both ways.
type RequestBuffering struct {
	MaxBytes Size `yaml:"max_bytes" default:"64KiB" min:"0B" max:"64MiB" doc:"Largest body read whole before the first try (up to this much is held in memory per request); a body declared or found larger streams from what was read on, sent once. 0 means none: every body streams as it arrives."`
}

// Match selects requests.
type Match struct {
	Host       string   `yaml:"host" doc:"Exact host, or *.example.com for any subdomain; empty matches every host. Compared without port, case-insensitively."`
	PathPrefix string   `yaml:"path_prefix" default:"/" doc:"Path prefix, matched on whole segments as the Kubernetes Gateway API's PathPrefix: /public matches /public and /public/x but not /publicity, and a trailing slash changes nothing (/public/ matches /public too). Matched on the request's path with dot segments removed and slashes merged; / matches everything."`
	Methods    []string `yaml:"methods" doc:"HTTP methods, upper case; empty matches every method."`
}

// Retry configures retries of one route. Only idempotent requests (RFC 9110,
// section 9.2.2) are retried, and only while the budget allows.
type Retry struct {
	Attempts      int        `yaml:"attempts" default:"1" min:"0" max:"10" doc:"Retries after the first try; 0 disables. Envoy and Linkerd default to 1."`
	PerTryTimeout TryTimeout `yaml:"per_try_timeout" default:"auto" doc:"Deadline of each try for its response head. auto (default): max(250ms, 4 × the route's p99), 1s until 20 answers were measured; when it passes, an idempotent request is also sent to another instance (outside the silent one's locality) and the first answer wins, nothing is cancelled. A duration: the try is cancelled then and retried if retry_on has timeout. 0s: none."`
	RetryOn       []string   `yaml:"retry_on" default:"[connect_failure,reset,gateway_error,timeout]" enum:"connect_failure,reset,gateway_error,5xx,timeout,unavailable" doc:"Which failures are retried: connect_failure, reset (connection reset before a response), gateway_error (502, 503, 504), 5xx, timeout (per-try timeout), unavailable (a gRPC UNAVAILABLE status, retried whatever the method). Only idempotent requests are retried once they reached an instance."`
	StatusWait    Duration   `yaml:"status_wait" default:"100ms" min:"0s" max:"10s" doc:"With unavailable in retry_on: how long a gRPC response whose head carries no status waits for its first message or its status (a draining server sends headers, then UNAVAILABLE in the trailers). A call that ends within it is retried on its status; a stream whose first message is slower is forwarded unretried after the wait. 0s: no wait, such a response is forwarded as it comes."`
	Backoff       Backoff    `yaml:"backoff" doc:"Wait between tries."`
	Budget        Budget     `yaml:"budget" doc:"Cap on retries relative to requests, so retries cannot multiply an outage (envoy#10869 asks for this by default)."`
}

// Backoff is fully jittered exponential backoff: the nth retry waits a random
// time in [0, min(max, base × 2^(n−1))): the first retry waits up to base.
type Backoff struct {
	Base Duration `yaml:"base" default:"25ms" min:"1ms" doc:"First backoff (Envoy's default 25ms)."`
	Max  Duration `yaml:"max" default:"250ms" min:"1ms" doc:"Largest backoff (Envoy's default, 10 × base)."`
}

// Budget limits retries to a share of requests.
type Budget struct {
	Ratio        float64 `yaml:"ratio" default:"0.2" min:"0" max:"1" doc:"Retries allowed per request over the last 10s (Envoy's budget_percent 20%); 0 allows none beyond min_per_second."`
	MinPerSecond int     `yaml:"min_per_second" default:"3" min:"0" max:"100000" doc:"Retries always allowed per second, so that low traffic can still retry (Envoy's min_retry_concurrency 3); 0: none."`
}

// Breaker configures a circuit breaker (package breaker): closed, open and
// half-open, tripping on consecutive failures, on a failure ratio or on a
// slow-call ratio over a sliding window. Client errors (4xx) never trip it.
type Breaker struct {
	Disabled            bool     `yaml:"disabled" doc:"Turn the breaker off."`
	ConsecutiveFailures int      `yaml:"consecutive_failures" default:"5" min:"0" max:"100000" doc:"Open after this many failures in a row (Envoy ejects at 5); 0 disables this trigger."`
	FailureRatio        Percent  `yaml:"failure_ratio" default:"50%" min:"0" max:"100" doc:"Open when this share of the calls in the window failed (Polaris and Kratos default 50%); 0 disables this trigger."`
	MinRequests         int      `yaml:"min_requests" default:"20" min:"1" max:"100000" doc:"Calls the window must hold before the ratios count, so that 1 failure in 1 call does not trip (Kratos default 20)."`
	Window              Duration `yaml:"window" default:"10s" min:"1s" doc:"Length of the sliding window of the ratios (go-zero default 10s)."`
	SlowCallThreshold   Duration `yaml:"slow_call_threshold" default:"0s" doc:"A call at least this long is slow; 0 disables the slow-call trigger (Sentinel's slow-call ratio rule)."`
	SlowCallRatio       Percent  `yaml:"slow_call_ratio" default:"50%" min:"0" max:"100" doc:"Open when this share of the calls in the window were slow; 0 disables the slow-call trigger, as slow_call_threshold 0s does."`
	OpenTimeout         Duration `yaml:"open_timeout" default:"5s" min:"10ms" doc:"How long the breaker stays open before letting probes through; short, since a gateway has other instances to use meanwhile."`
	HalfOpenProbes      int      `yaml:"half_open_probes" default:"3" min:"1" max:"1000" doc:"Calls let through while half-open; that many successes close it (Polaris closes after 3)."`
}

// Fallback says what a route answers when it cannot get an answer from an
// instance. Stale is tried first, then Static.
type Fallback struct {
	Stale  *StaleFallback `yaml:"stale" doc:"Answer with the last good response to the same GET (RFC 5861 stale-if-error); absent means off."`
	Static *StaticReply   `yaml:"static" doc:"Answer with a fixed reply; absent means the gateway's error."`
}

// StaleFallback keeps the last good responses of cacheable GETs.
type StaleFallback struct {
	TTL           Duration `yaml:"ttl" default:"5m" min:"1s" doc:"How old a stored response may be and still be served; long enough to ride out a failover."`
	MaxBytes      Size     `yaml:"max_bytes" default:"64MiB" min:"1KiB" doc:"Bound on the bodies held for the route; the oldest are evicted first."`
	MaxEntryBytes Size     `yaml:"max_entry_bytes" default:"1MiB" min:"1B" doc:"Largest body stored; larger responses are not kept."`
}

// StaticReply is a fixed fallback reply.
type StaticReply struct {
	Status      int    `yaml:"status" default:"503" min:"100" max:"599" doc:"Status of the reply."`
	Body        string `yaml:"body" doc:"Body of the reply."`
	ContentType string `yaml:"content_type" default:"text/plain; charset=utf-8" doc:"Content-Type of the reply."`
}

// Faults is the fault filter's configuration (package fault).
type Faults struct {
	MaxActive int         `yaml:"max_active" default:"0" min:"0" max:"1000000" doc:"Cap on requests being faulted at once (Envoy's max_active_faults); 0 means no cap."`
	Rules     []FaultRule `yaml:"rules" doc:"Rules tried in order; the first that matches a request decides."`
}

// FaultRule applies a fault spec to matching requests.
type FaultRule struct {
	Name       string   `yaml:"name" required:"true" doc:"Unique name, used on the admin API and in metrics."`
	Host       string   `yaml:"host" doc:"Exact host (no port); empty matches every host."`
	PathPrefix string   `yaml:"path_prefix" default:"/" doc:"Path prefix; / matches everything."`
	Methods    []string `yaml:"methods" doc:"HTTP methods; empty matches every method."`
	Spec       string   `yaml:"spec" required:"true" doc:"What to inject, e.g. delay=200ms@10%,abort=503@1% or abort=reset@5%,header (only requests with x-duohuo-fault-* headers)."`
}

// Gray says how the traffic color (the gray lane of a request) travels and
// whom the gateway believes about it (package color).
type Gray struct {
	Header          string   `yaml:"header" default:"X-Gray-Id" doc:"Header that carries the lane name."`
	BaggageKey      string   `yaml:"baggage_key" default:"gray.lane" doc:"W3C baggage member that carries the lane too, for tracing-aware proxies and SDKs."`
	TrustedNetworks []string `yaml:"trusted_networks" doc:"CIDRs of peers whose color is believed as sent (other gateways, sidecars, your services); from anyone else a color is stripped unless it carries a valid signed token. Add 127.0.0.0/8 for a sidecar."`
	Keys            []string `yaml:"keys" doc:"HMAC keys (at least 16 bytes) that verify signed colors; the first also signs. Write ${DUOHUO_GRAY_KEY} to keep them out of the file."`
	SignTTL         Duration `yaml:"sign_ttl" default:"0s" doc:"When positive, colored requests the gateway sends carry a token valid this long, for hops that leave the trusted networks; 0s: no tokens."`
}

// GrayPolicy is a route's gray release policy (package gray). The
// precedence is: a trusted color naming a subset, then the rules in order,
// then the weights, then the baseline.
type GrayPolicy struct {
	Subsets  []GraySubset `yaml:"subsets" doc:"Named groups of the service's instances, selected by labels; the names are also the lane names colors refer to."`
	Baseline string       `yaml:"baseline" doc:"Subset that takes what nothing else claims and that lanes fall back to; empty means every instance no subset selects."`
	Rules    []GrayRule   `yaml:"rules" doc:"Tried in order; the first whose every condition holds sends the request to its subset."`
	Weights  []GrayWeight `yaml:"weights" doc:"Relative shares of the requests no color and no rule claimed; empty sends them to the baseline."`
	Mode     string       `yaml:"mode" default:"permissive" enum:"permissive,strict" doc:"When a lane has no healthy instance: permissive falls back to the baseline, strict answers 503."`
	Salt     string       `yaml:"salt" doc:"Mixed into user hashes; routes with the same salt put a user in the same bucket."`
}

// GraySubset is a named group of instances.
type GraySubset struct {
	Name   string            `yaml:"name" required:"true" doc:"Subset (lane) name."`
	Labels map[string]string `yaml:"labels" doc:"Labels an instance must all have, e.g. {version: v2}."`
}

// GrayRule sends the requests that meet all its conditions to a subset.
type GrayRule struct {
	Name     string        `yaml:"name" doc:"For people, logs and dry runs."`
	Subset   string        `yaml:"subset" required:"true" doc:"Where matching requests go."`
	Headers  []GrayMatch   `yaml:"headers" doc:"Conditions on request headers."`
	Cookies  []GrayMatch   `yaml:"cookies" doc:"Conditions on cookies."`
	Query    []GrayMatch   `yaml:"query" doc:"Conditions on query parameters."`
	Baggage  []GrayMatch   `yaml:"baggage" doc:"Conditions on members of the W3C baggage header, set by any upstream service."`
	Sources  []string      `yaml:"sources" doc:"CIDRs or addresses the direct peer must be in."`
	UserHash *GrayUserHash `yaml:"user_hash" doc:"Holds for a stable share of users."`
}

// GrayMatch is a condition on one header, cookie or query parameter; exactly
// one of exact, one_of, prefix, regex and present is set.
type GrayMatch struct {
	Name    string   `yaml:"name" required:"true" doc:"Header, cookie or parameter name."`
	Exact   string   `yaml:"exact" doc:"The value equals this."`
	OneOf   []string `yaml:"one_of" doc:"The value equals one of these."`
	Prefix  string   `yaml:"prefix" doc:"The value starts with this."`
	Regex   string   `yaml:"regex" doc:"The whole value matches this RE2 expression (bounded in size)."`
	Present bool     `yaml:"present" doc:"The value is not empty."`
	Invert  bool     `yaml:"invert" doc:"Negate the condition."`
}

// GrayUserHash holds for a stable share of users.
type GrayUserHash struct {
	Header  string  `yaml:"header" doc:"Header with the user id, e.g. x-user-id."`
	Cookie  string  `yaml:"cookie" doc:"Cookie with the user id (instead of header)."`
	Percent float64 `yaml:"percent" min:"0" max:"100" doc:"Share of users, 0 to 100 in steps of 0.01; raising it only adds users."`
}

// GrayWeight is a subset's relative share of unclaimed requests.
type GrayWeight struct {
	Subset string `yaml:"subset" required:"true" doc:"Subset name, the baseline included."`
	Weight int    `yaml:"weight" min:"0" max:"1000000" doc:"Relative weight."`
}

// Policy returns p as a gray.Policy.
func (p *GrayPolicy) Policy() gray.Policy {
	conv := func(ms []GrayMatch) []gray.Match {
		var out []gray.Match
		for _, m := range ms {
			out = append(out, gray.Match{Name: m.Name, Exact: m.Exact, OneOf: m.OneOf, Prefix: m.Prefix, Regex: m.Regex, Present: m.Present, Invert: m.Invert})
		}
		return out
	}
	gp := gray.Policy{Baseline: p.Baseline, Mode: gray.Mode(p.Mode), Salt: p.Salt}
	for _, s := range p.Subsets {
		gp.Subsets = append(gp.Subsets, gray.Subset{Name: s.Name, Labels: s.Labels})
	}
	for _, r := range p.Rules {
		gr := gray.Rule{Name: r.Name, Subset: r.Subset, Headers: conv(r.Headers), Cookies: conv(r.Cookies), Query: conv(r.Query), Baggage: conv(r.Baggage), Sources: r.Sources}
		if r.UserHash != nil {
			gr.UserHash = &gray.UserHash{Header: r.UserHash.Header, Cookie: r.UserHash.Cookie, Percent: r.UserHash.Percent}
		}
		gp.Rules = append(gp.Rules, gr)
	}
	for _, w := range p.Weights {
		gp.Weights = append(gp.Weights, gray.Weight{Subset: w.Subset, Weight: uint32(w.Weight)})
	}
	return gp
}

// Replication configures this site's replica of the replicated state.
type Replication struct {
	Name      string   `yaml:"name" doc:"This site's name, unique among the sites; default site.cloud/site.region."`
	Dir       string   `yaml:"dir" required:"true" doc:"Directory of the durable store (bbolt, fsynced before a write is acknowledged); relative to this file's directory."`
	Bind      string   `yaml:"bind" doc:"host:port for gossip (UDP) and streams (TCP), e.g. 0.0.0.0:7946; empty runs the store alone, without replication."`
	Advertise string   `yaml:"advertise" doc:"host:port other sites dial, when it differs from bind (NAT, containers)."`
	Join      []string `yaml:"join" doc:"host:port of other sites to join. Joins run in the background (the site serves at once) and are retried, with backoff up to 30s, while a site is not connected, as are the sites seen before (docs/replication.md, Joins)."`
	SecretKey string   `yaml:"secret_key" doc:"Shared key (16, 24 or 32 bytes) that encrypts gossip and streams (AES-GCM); required unless bind is a loopback address. Write ${DUOHUO_REPLICA_KEY}."`
	OldKeys   []string `yaml:"old_keys" doc:"Keys still accepted for decryption, never used to encrypt: to rotate, add the new key here on every site, then make it secret_key everywhere, then drop the old one."`
	Network   string   `yaml:"network" default:"wan" enum:"local,lan,wan" doc:"Timing preset: wan for sites in different clouds or regions, lan within a region, local on one machine."`
	AtRest    *AtRest  `yaml:"at_rest" doc:"Encrypt the store's values on disk with SM4-GCM (docs/gm.md, SM4 at rest): object states and log entries; names and bbolt's own metadata stay clear. A store written without it opens with it and is sealed at once. Absent: values are written clear."`

	AntiEntropyInterval Duration `yaml:"anti_entropy_interval" default:"0s" max:"10m" doc:"How often this site compares its state with a random other site and repairs what differs (also at once when a site joins). 0s: the preset's, wan 2s, lan 1s, local 250ms: a few gossip intervals, so that a healed partition converges within seconds; longer sends less (one 1 KB message per round while the states agree) but repairs lost deltas later."`
	ProbeInterval       Duration `yaml:"probe_interval" default:"0s" max:"1m" doc:"How often a random site is probed for liveness. 0s: the preset's, wan 5s, lan and local 1s: a long link gets fewer false suspicions at the cost of slower failure detection."`
	ProbeTimeout        Duration `yaml:"probe_timeout" default:"0s" max:"1m" doc:"How long a probe waits for its answer before other sites are asked to probe; keep it below probe_interval and above the links' round trip. 0s: the preset's, wan 3s, lan 500ms, local 200ms."`
	SuspicionMult       int      `yaml:"suspicion_mult" default:"0" min:"0" max:"100" doc:"A site that missed its probes stays suspect, and may refute, for suspicion_mult × log10(sites+1) × probe_interval before it is declared dead. 0: the preset's, wan 6, lan 4, local 3; raise it where links drop packets in bursts, so that live sites are not declared dead, lower it to detect failures sooner."`
	MaxClockOffset      Duration `yaml:"max_clock_offset" default:"500ms" min:"1ms" max:"1m" doc:"How far another site's clock may run ahead of this site's before its deltas and anti-entropy states are refused (duohuo_replica_rejected_total{reason=\"clock\"}, the log names the site whose clock is off) until it is back within: a site whose clock runs ahead must not make its register and map writes win. 500ms, CockroachDB's figure, is far above what NTP or chrony keep; raise it only where clocks are known to drift more, since a site up to this far ahead still wins concurrent writes (docs/replication.md, Clocks)."`
}

// Hedge configures hedged requests ("The Tail at Scale", Dean and Barroso,
// 2013): a second try of a slow idempotent request on another instance.
type Hedge struct {
	Percentile Percent  `yaml:"percentile" default:"95%" min:"50" max:"99.99" doc:"Hedge a request once it has waited longer than this percentile of the route's recent latencies."`
	Delay      Duration `yaml:"delay" default:"0s" doc:"A fixed wait before hedging instead of the percentile; 0 uses the percentile."`
	MinSamples int      `yaml:"min_samples" default:"100" min:"1" max:"1000000" doc:"Latencies the route must have seen (over about 20s) before the percentile is trusted; no hedging until then."`
}

// Registration is where duohuo serve registers the gateway itself: one of
// etcd, nacos and consul. Settings take effect at start: a reload that
// changes them is applied at the next restart.
type Registration struct {
	Service string              `yaml:"service" required:"true" doc:"Service name the gateway registers under, which its clients discover."`
	Address string              `yaml:"address" doc:"host:port at which clients reach this gateway; empty means the first listener's listen address, which must then name a host (not 0.0.0.0, [::] or an empty host)."`
	Weight  int                 `yaml:"weight" default:"100" min:"1" max:"10000" doc:"Weight registered, in duohuo's units (100 is Nacos's 1.0 and Consul's 1)."`
	Labels  map[string]string   `yaml:"labels" doc:"Labels registered with the instance (Nacos metadata, Consul service meta, etcd labels). The site's cloud, region and zone are always registered."`
	Etcd    *EtcdRegistration   `yaml:"etcd" doc:"Register under discovery/etcd's key layout, on a lease kept alive."`
	Nacos   *NacosRegistration  `yaml:"nacos" doc:"Register as an ephemeral Nacos instance kept alive by heartbeats."`
	Consul  *ConsulRegistration `yaml:"consul" doc:"Register on a Consul agent with a TTL check."`
}

// EtcdRegistration registers under a prefix of an etcd cluster.
type EtcdRegistration struct {
	Endpoints    []string     `yaml:"endpoints" required:"true" doc:"etcd client URLs, e.g. https://10.0.0.1:2379."`
	Prefix       string       `yaml:"prefix" default:"/duohuo/instances/" doc:"Key prefix discovery/etcd reads; the key is <prefix><service>/<address>."`
	TTL          Duration     `yaml:"ttl" default:"10s" min:"2s" max:"1h" doc:"Lease time to live: how long the key outlives a gateway that dies without deregistering."`
	Username     string       `yaml:"username" doc:"etcd user; empty means none."`
	PasswordEnv  string       `yaml:"password_env" doc:"Environment variable that holds the etcd password; needs username, excludes password_file."`
	PasswordFile string       `yaml:"password_file" doc:"File whose content (trailing newline removed) is the etcd password; relative to this file's directory; needs username, excludes password_env."`
	TLS          *UpstreamTLS `yaml:"tls" doc:"How the etcd servers are verified and the client certificate, for https endpoints."`
}

// NacosRegistration registers in Nacos over its v1 open API.
type NacosRegistration struct {
	Servers      []string     `yaml:"servers" required:"true" doc:"Nacos servers, tried in order, as for a nacos discovery source: 10.0.0.1:8848, https://nacos.example.com/nacos."`
	Namespace    string       `yaml:"namespace" default:"public" doc:"Namespace ID."`
	Group        string       `yaml:"group" default:"DEFAULT_GROUP" doc:"Group of the service."`
	Cluster      string       `yaml:"cluster" default:"DEFAULT" doc:"Nacos cluster of the instance."`
	Username     string       `yaml:"username" doc:"Log in with this user; empty means no login."`
	PasswordEnv  string       `yaml:"password_env" doc:"Environment variable that holds the password; needs username, excludes password_file."`
	PasswordFile string       `yaml:"password_file" doc:"File whose content (trailing newline removed) is the password; relative to this file's directory; needs username, excludes password_env."`
	Interval     Duration     `yaml:"interval" default:"5s" min:"100ms" max:"10s" doc:"Time between heartbeats (the Nacos clients' 5s); the server marks an instance unhealthy after 15s without one and removes it after 30s."`
	TLS          *UpstreamTLS `yaml:"tls" doc:"How https servers are verified."`
}

// ConsulRegistration registers on a Consul agent.
type ConsulRegistration struct {
	Agents          []string     `yaml:"agents" default:"[127.0.0.1:8500]" doc:"Consul agents, usually the local one, tried in order: 127.0.0.1:8500, https://consul.service:8501."`
	Tags            []string     `yaml:"tags" doc:"Tags of the registered service."`
	TokenEnv        string       `yaml:"token_env" doc:"Environment variable that holds the ACL token (needs service:write); excludes token_file."`
	TokenFile       string       `yaml:"token_file" doc:"File whose content (trailing newline removed) is the ACL token; relative to this file's directory; excludes token_env."`
	TTL             Duration     `yaml:"ttl" default:"15s" min:"1s" max:"1h" doc:"TTL of the check the gateway passes every third of it; the service turns critical when the gateway stops."`
	DeregisterAfter Duration     `yaml:"deregister_after" default:"1m" min:"1m" doc:"How long the check may stay critical before the agent removes the service (DeregisterCriticalServiceAfter; Consul's least is 1m)."`
	TLS             *UpstreamTLS `yaml:"tls" doc:"How https agents are verified."`
}

// Password returns the etcd password from password_env or password_file.
func (r *EtcdRegistration) Password() (string, error) { return secret(r.PasswordEnv, r.PasswordFile) }

// Password returns the Nacos password from password_env or password_file.
func (r *NacosRegistration) Password() (string, error) { return secret(r.PasswordEnv, r.PasswordFile) }

// Token returns the Consul ACL token from token_env or token_file.
func (r *ConsulRegistration) Token() (string, error) { return secret(r.TokenEnv, r.TokenFile) }

// SLO configures the service level objectives of every service (package
// slo): an availability SLI (a request is good unless its answer is a 5xx
// or no answer at all) and a latency SLI (good when answered within
// latency_threshold), counted per route and cloud from each request's
// final answer, with multiwindow burn-rate alerts and a health score.
type SLO struct {
	Objective        Percent    `yaml:"objective" default:"99.9%" min:"50" max:"99.9999" doc:"Share of requests that must be answered without a 5xx over the period (the availability SLO)."`
	Period           Duration   `yaml:"period" default:"720h" min:"1h" max:"2160h" doc:"Period of the error budget, in hours (720h is 30 days); the counters keep one-hour buckets over it."`
	LatencyThreshold Duration   `yaml:"latency_threshold" default:"250ms" doc:"A request answered within this, body included, is good for the latency SLI; 0s turns the latency SLI off. duohuo slo rules needs one of the bounds of duohuo_request_duration_seconds (docs/observability.md)."`
	LatencyObjective Percent    `yaml:"latency_objective" default:"99%" min:"50" max:"99.9999" doc:"Share of requests that must be answered within latency_threshold over the period (the latency SLO)."`
	Alerts           []SLOAlert `yaml:"alerts" doc:"Multiwindow burn-rate alerts on both SLOs; empty means the SRE Workbook's for 30 days: page on 1h and 5m above 14.4, page on 6h and 30m above 6, ticket on 3d (72h) and 6h above 1."`
	Score            SLOScore   `yaml:"score" doc:"How the health score of a service and of each of its clouds is made (docs/observability.md, Health score)."`
}

// SLOAlert fires while the error ratio over both windows is above burn ×
// the error budget (1 − objective).
type SLOAlert struct {
	Severity string   `yaml:"severity" required:"true" enum:"page,ticket" doc:"page for someone now, ticket for the next working day; the severity label of the generated alert."`
	Long     Duration `yaml:"long" required:"true" min:"1m" doc:"Long window: the burn must have lasted this long; at most the period. Up to 6h in whole minutes, beyond in whole hours (the counters' buckets)."`
	Short    Duration `yaml:"short" required:"true" min:"1m" doc:"Short window, usually a twelfth of long: the alert ends soon after the burn does."`
	Burn     float64  `yaml:"burn" required:"true" min:"0.01" max:"100000" doc:"Burn rate: how many times faster than the period allows the budget goes (14.4 spends 2% of 30 days in 1h)."`
}

// SLOScore says how the health score is made: a weighted mean of
// sub-scores between 0 and 1, over the inputs that are present.
type SLOScore struct {
	Window        Duration   `yaml:"window" default:"5m" min:"1m" max:"6h" doc:"Window of the score's inputs: the burn rates and the P99 per cloud."`
	MaxBurn       float64    `yaml:"max_burn" default:"14.4" min:"0.01" max:"100000" doc:"Burn rate at which the availability and latency sub-scores reach 0 (linear from 1 at no errors)."`
	MaxDrift      float64    `yaml:"max_drift" default:"1" min:"0.01" max:"1000" doc:"Relative P99 drift, (p99 − best cloud's p99) / best cloud's p99, at which the drift sub-score reaches 0; 1 is a P99 twice the best cloud's."`
	MinRequests   int        `yaml:"min_requests" default:"20" min:"1" max:"1000000000" doc:"Requests a cloud needs in the window for its P99 to count in the drift."`
	MaxReplicaLag Duration   `yaml:"max_replica_lag" default:"1s" min:"1ms" doc:"Replica lag still scored 1; the sub-score falls to 0 at twice it."`
	Weights       SLOWeights `yaml:"weights" doc:"Relative weights of the inputs; an input of weight 0 is left out."`
}

// SLOWeights are the relative weights of the health score's inputs. The
// defaults of lease, drift and availability are the design's 0.4, 0.4, 0.2.
type SLOWeights struct {
	Availability float64 `yaml:"availability" default:"0.2" min:"0" max:"1000" doc:"Weight of the availability burn rate."`
	Latency      float64 `yaml:"latency" default:"0.2" min:"0" max:"1000" doc:"Weight of the latency burn rate."`
	Drift        float64 `yaml:"drift" default:"0.4" min:"0" max:"1000" doc:"Weight of the cross-cloud P99 drift."`
	Lease        float64 `yaml:"lease" default:"0.4" min:"0" max:"1000" doc:"Weight of the lock lease keep-alive success, where a lease is held."`
	ReplicaLag   float64 `yaml:"replica_lag" default:"0.2" min:"0" max:"1000" doc:"Weight of the replica lag, where the replicated state is kept."`
}

// Availability returns the availability objective as an slo.Objective.
func (s *SLO) Availability() slo.Objective {
	return slo.Objective{Target: fraction(s.Objective), Period: time.Duration(s.Period), Alerts: s.alerts()}
}

// fraction returns p as a fraction rounded to 12 decimals: 99.9% is 0.999,
// not 99.9/100 = 0.9990000000000001.
func fraction(p Percent) float64 { return math.Round(p.Fraction()*1e12) / 1e12 }

// Latency returns the latency objective as an slo.Objective.
func (s *SLO) Latency() slo.Objective {
	return slo.Objective{Target: fraction(s.LatencyObjective), Period: time.Duration(s.Period), Alerts: s.alerts()}
}

// alerts returns the configured alerts, nil (slo.DefaultAlerts) when none.
func (s *SLO) alerts() []slo.Alert {
	var out []slo.Alert
	for _, a := range s.Alerts {
		out = append(out, slo.Alert{Severity: a.Severity, Long: time.Duration(a.Long), Short: time.Duration(a.Short), Burn: a.Burn})
	}
	return out
}

// ScoreConfig returns the score section as an slo.ScoreConfig.
func (s *SLO) ScoreConfig() slo.ScoreConfig {
	w := s.Score.Weights
	return slo.ScoreConfig{
		Weights:  slo.Weights{Availability: w.Availability, Latency: w.Latency, Drift: w.Drift, Lease: w.Lease, ReplicaLag: w.ReplicaLag},
		MaxBurn:  s.Score.MaxBurn,
		MaxDrift: s.Score.MaxDrift,
		MaxLag:   time.Duration(s.Score.MaxReplicaLag),
	}
}
