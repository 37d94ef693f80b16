package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/duohuo/duohuo/fault"
	"github.com/duohuo/duohuo/gray"
	"github.com/duohuo/duohuo/slo"
)

// namePattern is what listener, service and route names look like: they
// appear in metric labels, logs and admin URLs.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c *checker) checkName(path, name string) {
	if name != "" && !namePattern.MatchString(name) {
		c.errorf(path, "invalid name %q: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
}

// checkHostPort checks a "host:port" listen or server address. An empty host
// is allowed only when emptyHost is set (listen on every interface).
func (c *checker) checkHostPort(path, addr string, emptyHost bool) (host string, ok bool) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		c.errorf(path, "invalid address %q: want host:port, e.g. 127.0.0.1:8080 or [::1]:8080", addr)
		return "", false
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		c.errorf(path, "invalid port %q in %q: want 0 to 65535", p, addr)
		return "", false
	}
	if h == "" && !emptyHost {
		c.errorf(path, "missing host in %q", addr)
		return "", false
	}
	if _, err := netip.ParseAddr(h); h != "" && err != nil && !validHostname(h) {
		c.errorf(path, "invalid host %q in %q", h, addr)
		return "", false
	}
	return h, true
}

func validHostname(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// checkLocality checks that a zone comes with a region and a region with a
// cloud: locality compares cloud, then region, then zone.
func (c *checker) checkLocality(path, cloud, region, zone string) {
	if zone != "" && region == "" {
		c.errorf(join(path, "zone"), "zone %q needs a region: locality compares cloud, region, then zone", zone)
	}
	if region != "" && cloud == "" {
		c.errorf(join(path, "region"), "region %q needs a cloud: locality compares cloud, region, then zone", region)
	}
}

func (s *Site) validate(c *checker, path string) {
	c.checkLocality(path, s.Cloud, s.Region, s.Zone)
}

// hostNamePattern is a DNS host name (RFC 1123), with an optional final dot.
var hostNamePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$`)

func (a *Admin) validate(c *checker, path string) {
	for i, h := range a.Hosts {
		if len(h) > 253 || !hostNamePattern.MatchString(h) {
			c.errorf(fmt.Sprintf("%s[%d]", join(path, "hosts"), i), "%q is not a host name: give the name alone, without scheme or port (e.g. duohuo-admin.internal)", h)
		}
	}
	if a.ReadOnlyToken != "" && a.Token == "" {
		c.errorf(join(path, "read_only_token"), "a read-only token needs admin.token: without a token every loopback request may change the gateway")
	} else if a.ReadOnlyToken != "" && a.ReadOnlyToken == a.Token {
		c.errorf(join(path, "read_only_token"), "the read-only token is the same as admin.token: give it another value")
	}
	host, ok := c.checkHostPort(join(path, "listen"), a.Listen, true)
	if !ok || a.Token != "" {
		return
	}
	if host == "localhost" {
		return
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return
	}
	c.errorf(join(path, "listen"), "%q is reachable from other machines but admin.token is not set: set token (e.g. ${DUOHUO_ADMIN_TOKEN}) or listen on 127.0.0.1", a.Listen)
}

func (l *Listener) validate(c *checker, path string) {
	c.checkName(join(path, "name"), l.Name)
	if l.Listen != "" {
		c.checkHostPort(join(path, "listen"), l.Listen, true)
	}
	for i, n := range l.TrustedProxies {
		if _, err := parsePrefix(n); err != nil {
			c.errorf(fmt.Sprintf("%s.trusted_proxies[%d]", path, i), "invalid network %q: want a CIDR such as 10.0.0.0/8 or an address", n)
		}
	}
}

func (s *Service) validate(c *checker, path string) {
	c.checkName(join(path, "name"), s.Name)
	if s.Upstream.Protocol == "h2" && s.Upstream.TLS == nil {
		c.errorf(join(path, "upstream.protocol"), "h2 is HTTP/2 over TLS: set upstream.tls, or use h2c for HTTP/2 in clear text")
	}
	for i, src := range s.Discovery {
		if src.Static != nil {
			c.uniqueAddrs(fmt.Sprintf("%s.discovery[%d].static.instances", path, i), src.Static.Instances)
		}
	}
}

// uniqueAddrs reports instances of one list that have the same address.
func (c *checker) uniqueAddrs(path string, ins []StaticInstance) {
	seen := map[netip.AddrPort]string{}
	for j, in := range ins {
		ap, err := netip.ParseAddrPort(in.Addr)
		if err != nil {
			continue // reported by StaticInstance.validate
		}
		p := fmt.Sprintf("%s[%d].addr", path, j)
		if first, dup := seen[ap]; dup {
			c.errorf(p, "duplicate instance %s (first at %s)", ap, first)
			continue
		}
		seen[ap] = p
	}
}

func (s *DiscoverySource) validate(c *checker, path string) {
	var set []string
	if s.Static != nil {
		set = append(set, "static")
	}
	if s.File != nil {
		set = append(set, "file")
	}
	if s.DNS != nil {
		set = append(set, "dns")
	}
	if s.Nacos != nil {
		set = append(set, "nacos")
	}
	if s.Consul != nil {
		set = append(set, "consul")
	}
	if s.Kubernetes != nil {
		set = append(set, "kubernetes")
	}
	switch len(set) {
	case 0:
		c.errorf(path, "a discovery source needs one of static, file, dns, nacos, consul or kubernetes")
	case 1:
	default:
		c.errorf(path, "a discovery source is exactly one of static, file, dns, nacos, consul or kubernetes; this one sets %s", strings.Join(set, " and "))
	}
}

// checkServer checks the address of a registry server: host[:port] or an
// http(s) URL, with a path only where the registry has a context path
// (withPath).
func (c *checker) checkServer(path, raw string, withPath bool) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	want := "want host[:port] or http[s]://host[:port]"
	if withPath {
		want += "[/context-path]"
	}
	switch {
	case raw == "":
		c.errorf(path, "empty server address: %s", want)
	case err != nil:
		c.errorf(path, "invalid server %q: %s", raw, want)
	case u.Scheme != "http" && u.Scheme != "https":
		c.errorf(path, "invalid server %q: scheme %q is not http or https", raw, u.Scheme)
	case u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		c.errorf(path, "invalid server %q: %s", raw, want)
	case !withPath && strings.Trim(u.Path, "/") != "":
		c.errorf(path, "invalid server %q: %s (no path)", raw, want)
	default:
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				c.errorf(path, "invalid port %q in server %q: want 1 to 65535", p, raw)
			}
		}
	}
}

// checkSecret checks a secret given by environment variable (envKey) or by
// file (fileKey): at most one of them, the variable set, the file readable
// and not empty.
func (c *checker) checkSecret(path, envKey, env, fileKey, file string) {
	switch {
	case env != "" && file != "":
		c.errorf(join(path, fileKey), "excludes %s: give the secret one way", envKey)
	case env != "":
		if !validEnvName(env) {
			c.errorf(join(path, envKey), "invalid variable name %q: use letters, digits and _", env)
		} else if v, _ := c.d.lookup(env); v == "" {
			c.errorf(join(path, envKey), "environment variable %s is not set or empty", env)
		}
	case file != "":
		p := file
		if !filepath.IsAbs(p) && c.d.dir != "" {
			p = filepath.Join(c.d.dir, p)
		}
		if _, err := readSecret(p); err != nil {
			c.errorf(join(path, fileKey), "%v", err)
		}
	}
}

// readSecret reads a secret file: its content without trailing newlines,
// which must not be empty.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return v, nil
}

// secret returns the secret of env or file (already absolute, as [Load]
// makes it); "" when neither is given.
func secret(env, file string) (string, error) {
	switch {
	case env != "":
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set or empty", env)
		}
		return v, nil
	case file != "":
		return readSecret(file)
	}
	return "", nil
}

// Password returns the Nacos password from password_env or password_file;
// "" when neither is set. Paths are used as they are: [Load] has made them
// absolute.
func (s *NacosSource) Password() (string, error) { return secret(s.PasswordEnv, s.PasswordFile) }

// Token returns the Consul ACL token from token_env or token_file; "" when
// neither is set. Paths are used as they are: [Load] has made them absolute.
func (s *ConsulSource) Token() (string, error) { return secret(s.TokenEnv, s.TokenFile) }

// registryName reports whether v can be a registry name, namespace, group,
// cluster or tag: no spaces around it, no control characters.
func registryName(v string) bool {
	return strings.TrimSpace(v) == v && !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func (s *NacosSource) validate(c *checker, path string) {
	if s.TLS != nil && (s.TLS.TLCP || s.TLS.GMFiles()) {
		c.errorf(join(path, "tls.tlcp"), "is for upstream.tls: nacos servers speak TLS")
	}
	for i, srv := range s.Servers {
		c.checkServer(fmt.Sprintf("%s.servers[%d]", path, i), srv, true)
	}
	for key, v := range map[string]string{"namespace": s.Namespace, "group": s.Group, "name": s.Name} {
		if !registryName(v) || strings.Contains(v, "@@") {
			c.errorf(join(path, key), "%q has spaces around it, control characters or \"@@\"", v)
		}
	}
	for i, cl := range s.Clusters {
		if cl == "" || strings.Contains(cl, ",") || !registryName(cl) {
			c.errorf(fmt.Sprintf("%s.clusters[%d]", path, i), "%q is empty or has a comma, spaces around it or control characters", cl)
		}
	}
	if s.Username == "" && (s.PasswordEnv != "" || s.PasswordFile != "") {
		c.errorf(join(path, "username"), "is required with a password")
	}
	c.checkSecret(path, "password_env", s.PasswordEnv, "password_file", s.PasswordFile)
	c.checkLocality(path, s.Cloud, s.Region, s.Zone)
}

func (s *ConsulSource) validate(c *checker, path string) {
	if s.TLS != nil && (s.TLS.TLCP || s.TLS.GMFiles()) {
		c.errorf(join(path, "tls.tlcp"), "is for upstream.tls: consul servers speak TLS")
	}
	if len(s.Servers) == 0 {
		c.errorf(join(path, "servers"), "must not be empty: give at least one Consul address, or leave servers out for 127.0.0.1:8500")
	}
	for i, srv := range s.Servers {
		c.checkServer(fmt.Sprintf("%s.servers[%d]", path, i), srv, false)
	}
	if !registryName(s.Name) || strings.ContainsAny(s.Name, "/?#") {
		c.errorf(join(path, "name"), "%q has spaces around it, control characters or one of / ? #", s.Name)
	}
	if !registryName(s.Datacenter) || strings.ContainsAny(s.Datacenter, " /?#") {
		c.errorf(join(path, "datacenter"), "%q has spaces, control characters or one of / ? #", s.Datacenter)
	}
	for i, t := range s.Tags {
		if t == "" || !registryName(t) {
			c.errorf(fmt.Sprintf("%s.tags[%d]", path, i), "%q is empty or has spaces around it or control characters", t)
		}
	}
	c.checkSecret(path, "token_env", s.TokenEnv, "token_file", s.TokenFile)
	c.checkLocality(path, s.Cloud, s.Region, s.Zone)
}

// k8sLabel is a DNS label as Kubernetes names namespaces, port names and
// (starting with a letter) Services: lower-case letters, digits and '-'
// inside, at most 63 characters.
var k8sLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (s *KubernetesSource) validate(c *checker, path string) {
	if s.Name != "" && (!k8sLabel.MatchString(s.Name) || s.Name[0] < 'a') {
		c.errorf(join(path, "name"), "%q is not a Service name: lower-case letters, digits and '-', starting with a letter, at most 63 characters", s.Name)
	}
	if s.Namespace != "" && !k8sLabel.MatchString(s.Namespace) {
		c.errorf(join(path, "namespace"), "%q is not a namespace: lower-case letters, digits and '-', at most 63 characters", s.Namespace)
	}
	if s.Port != "" {
		if n, err := strconv.Atoi(s.Port); err == nil {
			if n < 1 || n > 65535 {
				c.errorf(join(path, "port"), "%d is outside 1..65535", n)
			}
		} else if len(s.Port) > 15 || !k8sLabel.MatchString(s.Port) || strings.Contains(s.Port, "--") {
			c.errorf(join(path, "port"), "%q is neither a port number nor a port name (at most 15 lower-case letters, digits and single '-')", s.Port)
		}
	}
	if s.CloudLabel != "" && (strings.ContainsAny(s.CloudLabel, " \t\n=,") || len(s.CloudLabel) > 316) {
		c.errorf(join(path, "cloud_label"), "%q is not a label key", s.CloudLabel)
	}
	if s.CloudLabel != "" && !s.NodeLocality {
		c.errorf(join(path, "cloud_label"), "needs node_locality: true (the cloud is read from the node's labels)")
	}
	c.checkLocality(path, s.Cloud, s.Region, s.Zone)
}

func (k *LocalityKeys) validate(c *checker, path string) {
	for key, v := range map[string]string{"cloud": k.Cloud, "region": k.Region, "zone": k.Zone} {
		if v == "" || !registryName(v) {
			c.errorf(join(path, key), "%q is empty or has spaces around it or control characters", v)
		}
	}
}

func (in *StaticInstance) validate(c *checker, path string) {
	if in.Addr != "" {
		ap, err := netip.ParseAddrPort(in.Addr)
		switch {
		case err != nil:
			c.errorf(join(path, "addr"), "invalid address %q: want ip:port, e.g. 10.0.0.1:8080 or [fd00::1]:8080 (use a dns source for host names)", in.Addr)
		case ap.Port() == 0:
			c.errorf(join(path, "addr"), "port 0 in %q: an instance needs its real port", in.Addr)
		}
	}
	c.checkLocality(path, in.Cloud, in.Region, in.Zone)
	for k := range in.Labels {
		if k == "" {
			c.errorf(join(path, "labels"), "empty label name")
		}
	}
}

func (s *DNSSource) validate(c *checker, path string) {
	if s.Name != "" && !validHostname(s.Name) {
		c.errorf(join(path, "name"), "invalid DNS name %q", s.Name)
	}
	switch {
	case s.Type == "srv" && c.written(join(path, "port")):
		c.errorf(join(path, "port"), "srv records carry their own port; remove port or use type a or aaaa")
	case (s.Type == "a" || s.Type == "aaaa") && s.Port == 0:
		c.errorf(join(path, "port"), "type %s needs the instances' port (1 to 65535)", s.Type)
	}
	if s.Resolver != "" {
		c.checkHostPort(join(path, "resolver"), s.Resolver, false)
	}
	c.checkLocality(path, s.Cloud, s.Region, s.Zone)
}

func (h *ActiveHealth) validate(c *checker, path string) {
	if h.Type == "tcp" && h.Path != "" {
		h.Type = "http" // a path asks for an http check (the default type is tcp)
	}
	switch {
	case h.Type == "http" && h.Path == "":
		c.errorf(join(path, "path"), "is required for type http, e.g. /healthz")
	case h.Type == "http" && !strings.HasPrefix(h.Path, "/"):
		c.errorf(join(path, "path"), "%q must start with /", h.Path)
	case h.Type != "http" && h.Path != "":
		c.errorf(join(path, "path"), "only http checks send a path; remove path or use type http")
	case h.Type != "grpc" && h.GRPCService != "":
		c.errorf(join(path, "grpc_service"), "only grpc checks name a service; remove grpc_service or use type grpc")
	}
	if h.Timeout >= h.Interval {
		c.errorf(join(path, "timeout"), "%s must be shorter than interval %s, or probes overlap", h.Timeout, h.Interval)
	}
	if h.Jitter >= h.Interval {
		c.errorf(join(path, "jitter"), "%s must be shorter than interval %s", h.Jitter, h.Interval)
	}
}

func (o *Outlier) validate(c *checker, path string) {
	if o.BaseEjectionTime > o.MaxEjectionTime {
		c.errorf(join(path, "base_ejection_time"), "%s is longer than max_ejection_time %s", o.BaseEjectionTime, o.MaxEjectionTime)
	}
}

func (r *Route) validate(c *checker, path string) {
	c.checkName(join(path, "name"), r.Name)
	if pt := r.Retry.PerTryTimeout; !pt.Auto && r.Timeout > 0 && pt.Fixed > r.Timeout {
		c.errorf(join(path, "retry.per_try_timeout"), "%s is longer than the route timeout %s", pt.Fixed, r.Timeout)
	}
	if r.MaxDuration > 0 && r.Timeout > r.MaxDuration {
		c.errorf(join(path, "max_duration"), "%s is shorter than the route timeout %s", r.MaxDuration, r.Timeout)
	}
	for i, u := range r.Upgrades {
		p := fmt.Sprintf("%s.upgrades[%d]", path, i)
		switch {
		case strings.EqualFold(u, "h2c"):
			c.errorf(p, "h2c is never forwarded: HTTP/2 in clear text is served by the listener itself (prior knowledge)")
		case !isToken(u):
			c.errorf(p, "invalid upgrade token %q: want a protocol name such as websocket", u)
		}
	}
}

func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2),
// optionally with a "/version".
func isToken(s string) bool {
	name, version, slash := strings.Cut(s, "/")
	return tchars(name) && (!slash || tchars(version))
}

func tchars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (m *Match) validate(c *checker, path string) {
	if m.Host != "" {
		h := strings.TrimPrefix(m.Host, "*.")
		if strings.Contains(h, "*") || strings.Contains(h, ":") || !validHostname(h) {
			c.errorf(join(path, "host"), "invalid host %q: want a host name without port, or *.example.com", m.Host)
		}
	}
	if !strings.HasPrefix(m.PathPrefix, "/") {
		c.errorf(join(path, "path_prefix"), "%q must start with /", m.PathPrefix)
	} else if strings.Contains(m.PathPrefix, "//") || hasDotSegment(m.PathPrefix) {
		// Requests are matched with their dot segments removed and
		// slashes merged: such a prefix would never match.
		c.errorf(join(path, "path_prefix"), "%q has an empty or a dot segment; requests are matched with those removed, so it would never match", m.PathPrefix)
	}
	for i, meth := range m.Methods {
		if meth == "" || strings.ToUpper(meth) != meth || strings.ContainsAny(meth, " \t/:") {
			c.errorf(fmt.Sprintf("%s.methods[%d]", path, i), "invalid method %q: want an upper-case HTTP method such as GET", meth)
		}
	}
}

func (p *GrayPolicy) validate(c *checker, path string) {
	if _, err := gray.Compile(p.Policy()); err != nil {
		fes := gray.FieldErrors(err)
		if len(fes) == 0 {
			c.errorf(path, "%v", err)
		}
		for _, fe := range fes {
			c.errorf(join(path, fe.Path), "%s", fe.Msg)
		}
	}
}

func (g *Gray) validate(c *checker, path string) {
	for i, n := range g.TrustedNetworks {
		if _, err := parsePrefix(n); err != nil {
			c.errorf(fmt.Sprintf("%s.trusted_networks[%d]", path, i), "invalid network %q: want a CIDR such as 10.0.0.0/8 or an address", n)
		}
	}
	for i, k := range g.Keys {
		if len(k) < 16 {
			c.errorf(fmt.Sprintf("%s.keys[%d]", path, i), "key is %d bytes, want at least 16", len(k))
		}
	}
}

// parsePrefix reads a CIDR or a single address (as a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParsePrefix reads a CIDR or a single address, as trusted_networks allows.
func ParsePrefix(s string) (netip.Prefix, error) { return parsePrefix(s) }

func (r *Replication) validate(c *checker, path string) {
	loopback := true
	if r.Bind != "" {
		if h, ok := c.checkHostPort(join(path, "bind"), r.Bind, true); ok {
			a, err := netip.ParseAddr(h)
			loopback = h == "localhost" || err == nil && a.IsLoopback()
		}
	}
	if r.Advertise != "" {
		c.checkHostPort(join(path, "advertise"), r.Advertise, false)
	}
	for i, j := range r.Join {
		c.checkHostPort(fmt.Sprintf("%s.join[%d]", path, i), j, false)
	}
	switch n := len(r.SecretKey); {
	case n == 0 && r.Bind != "" && !loopback:
		c.errorf(join(path, "secret_key"), "is required when bind %s is not a loopback address: gossip between sites must be encrypted", r.Bind)
	case n != 0 && n != 16 && n != 24 && n != 32:
		c.errorf(join(path, "secret_key"), "key is %d bytes, want 16, 24 or 32 (AES-128/192/256)", n)
	}
	for i, k := range r.OldKeys {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			c.errorf(fmt.Sprintf("%s.old_keys[%d]", path, i), "key is %d bytes, want 16, 24 or 32 (AES-128/192/256)", n)
		}
	}
}

func (f *FaultRule) validate(c *checker, path string) {
	c.checkName(join(path, "name"), f.Name)
	if _, err := fault.ParseSpec(f.Spec); err != nil {
		c.errorf(join(path, "spec"), "%v", err)
	}
}

func (s *SLO) validate(c *checker, path string) {
	for i, a := range s.Alerts {
		p := fmt.Sprintf("%s.alerts[%d]", path, i)
		// The counters answer windows in whole buckets: minutes up to
		// 6h, hours beyond.
		for _, w := range []struct {
			key string
			d   Duration
		}{{"long", a.Long}, {"short", a.Short}} {
			d := time.Duration(w.d)
			if d <= 6*time.Hour && d%time.Minute != 0 || d > 6*time.Hour && d%time.Hour != 0 {
				c.errorf(join(p, w.key), "%s: write whole minutes up to 6h and whole hours beyond, the buckets the windows are counted in", w.d)
			}
		}
	}
	for _, o := range []struct {
		key string
		obj slo.Objective
	}{{"objective", s.Availability()}, {"latency_objective", s.Latency()}} {
		if err := o.obj.Validate(); err != nil {
			msg := strings.TrimPrefix(err.Error(), slo.ErrObjective.Error()+": ")
			if i := alertIndex(msg); i >= 0 && len(s.Alerts) > 0 {
				c.errorf(fmt.Sprintf("%s.alerts[%d]", path, i), "with %s %s: %s", o.key, map[string]Percent{"objective": s.Objective, "latency_objective": s.LatencyObjective}[o.key], msg)
			} else {
				c.errorf(join(path, o.key), "%s", msg)
			}
		}
	}
	if w := s.Score.Weights; w == (SLOWeights{}) {
		c.errorf(join(path, "score.weights"), "every weight is 0: give at least one input a weight above 0")
	}
}

// alertIndex returns i from an slo validation message "alerts[i]: …", -1
// for any other.
func alertIndex(msg string) int {
	rest, ok := strings.CutPrefix(msg, "alerts[")
	if !ok {
		return -1
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(n)
	if err != nil {
		return -1
	}
	return i
}

func (b *Backoff) validate(c *checker, path string) {
	if b.Base > b.Max {
		c.errorf(join(path, "base"), "%s is longer than max %s", b.Base, b.Max)
	}
}

// validate checks what spans sections: unique names and addresses, and that
// every route names a defined service. Each check is one pass with a map;
// paths are made only for what is reported.
func (cfg *Config) validate(c *checker, _ string) {
	listens := map[string]string{}
	if cfg.Admin.Listen != "" {
		listens[cfg.Admin.Listen] = "admin.listen"
	}
	names := map[string]int{}
	for i, l := range cfg.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		c.unique(names, "listeners", i, "name", l.Name, "listener")
		if first, dup := listens[l.Listen]; dup && l.Listen != "" && !strings.HasSuffix(l.Listen, ":0") {
			c.errorf(join(p, "listen"), "address %s is already used by %s", l.Listen, first)
		} else if l.Listen != "" {
			listens[l.Listen] = join(p, "listen")
		}
	}
	services := make(map[string]int, len(cfg.Services))
	for i, s := range cfg.Services {
		c.unique(services, "services", i, "name", s.Name, "service")
	}
	cfg.validateCrypto(c)
	for i, rl := range cfg.RateLimits {
		if rl.Global != nil && (cfg.Replication == nil || cfg.Replication.Bind == "") {
			c.errorf(fmt.Sprintf("rate_limits[%d].global", i), "needs replication with a bind address: the sites learn each other's counts through the replica")
		}
	}
	if r := cfg.Registration; r != nil && r.Address == "" {
		if _, msg := cfg.registrationAddress(); msg != "" {
			c.errorf("registration.address", "%s", msg)
		}
	}
	routes := make(map[string]int, len(cfg.Routes))
	matches := make(map[matchKey]int, len(cfg.Routes))
	var suggestions map[string]string // unknown service → nearest known one
	for i, r := range cfg.Routes {
		c.unique(routes, "routes", i, "name", r.Name, "route")
		if _, ok := services[r.Service]; r.Service != "" && !ok {
			s, done := suggestions[r.Service]
			if !done {
				// Each distinct unknown name is compared with
				// every service once, however many routes name it.
				if suggestions == nil {
					suggestions = map[string]string{}
				}
				if len(suggestions) < maxSuggestions {
					s = closest(r.Service, services)
				}
				suggestions[r.Service] = s
			}
			msg := fmt.Sprintf("unknown service %q", r.Service)
			if s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			c.errorf(fmt.Sprintf("routes[%d].service", i), "%s", msg)
		}
		// Prefixes match whole segments: /a/ and /a take the same requests.
		prefix := r.Match.PathPrefix
		if len(prefix) > 1 {
			prefix = strings.TrimSuffix(prefix, "/")
		}
		key := matchKey{strings.ToLower(r.Match.Host), prefix, strings.Join(r.Match.Methods, ",")}
		if first, dup := matches[key]; dup {
			c.errorf(fmt.Sprintf("routes[%d].match", i), "never used: routes[%d] matches the same requests first", first)
		} else {
			matches[key] = i
		}
	}
	cfg.validateRateLimits(c)
}

// matchKey is what makes two routes match the same requests.
type matchKey struct{ host, pathPrefix, methods string }

// maxSuggestions bounds the distinct unknown service names that get a "did
// you mean": each costs a comparison with every service.
const maxSuggestions = 100

// unique reports name, at list[i].key, if seen already holds it, and
// records it with its index.
func (c *checker) unique(seen map[string]int, list string, i int, key, name, what string) {
	if name == "" {
		return
	}
	if first, dup := seen[name]; dup {
		c.errorf(fmt.Sprintf("%s[%d].%s", list, i, key), "duplicate %s name %q (first at %s[%d].%s)", what, name, list, first, key)
		return
	}
	seen[name] = i
}

// closest returns the key of names nearest to s, if close enough to be a typo.
func closest(s string, names map[string]int) string {
	best, bestD := "", 3
	for name := range names {
		if d := levenshtein(strings.ToLower(s), name); d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	if bestD > 2 || bestD >= len(s) {
		return ""
	}
	return best
}

func (r *Registration) validate(c *checker, path string) {
	n := 0
	for _, set := range []bool{r.Etcd != nil, r.Nacos != nil, r.Consul != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		c.errorf(path, "needs exactly one of etcd, nacos and consul (%d given)", n)
	}
	if r.Address != "" {
		c.checkHostPort(join(path, "address"), r.Address, false)
		if h, _, err := net.SplitHostPort(r.Address); err == nil && wildcardHost(h) {
			c.errorf(join(path, "address"), "%q is not an address clients can reach: name this gateway's host or IP", r.Address)
		}
	}
	if !registryName(r.Service) || strings.ContainsAny(r.Service, "/?#@") {
		c.errorf(join(path, "service"), "%q has spaces around it, control characters or one of / ? # @", r.Service)
	}
	for _, t := range []*UpstreamTLS{etcdTLS(r.Etcd), nacosTLS(r.Nacos), consulTLS(r.Consul)} {
		if t != nil && (t.TLCP || t.GMFiles()) {
			c.errorf(path, "tls.tlcp is for upstream.tls: registries speak TLS")
		}
	}
	if e := r.Etcd; e != nil {
		for i, ep := range e.Endpoints {
			c.checkServer(fmt.Sprintf("%s.etcd.endpoints[%d]", path, i), ep, false)
		}
		if strings.Trim(e.Prefix, "/") == "" {
			c.errorf(join(path, "etcd.prefix"), "%q is empty or the whole keyspace", e.Prefix)
		}
		if e.Username == "" && (e.PasswordEnv != "" || e.PasswordFile != "") {
			c.errorf(join(path, "etcd.username"), "is required with a password")
		}
		c.checkSecret(join(path, "etcd"), "password_env", e.PasswordEnv, "password_file", e.PasswordFile)
	}
	if nr := r.Nacos; nr != nil {
		for i, srv := range nr.Servers {
			c.checkServer(fmt.Sprintf("%s.nacos.servers[%d]", path, i), srv, true)
		}
		for key, v := range map[string]string{"namespace": nr.Namespace, "group": nr.Group, "cluster": nr.Cluster} {
			if !registryName(v) || strings.Contains(v, "@@") || (key == "cluster" && strings.Contains(v, ",")) {
				c.errorf(join(path, "nacos."+key), "%q has spaces around it, control characters, \"@@\" or a comma", v)
			}
		}
		if nr.Username == "" && (nr.PasswordEnv != "" || nr.PasswordFile != "") {
			c.errorf(join(path, "nacos.username"), "is required with a password")
		}
		c.checkSecret(join(path, "nacos"), "password_env", nr.PasswordEnv, "password_file", nr.PasswordFile)
	}
	if cr := r.Consul; cr != nil {
		if len(cr.Agents) == 0 {
			c.errorf(join(path, "consul.agents"), "must not be empty: give the local agent, or leave agents out for 127.0.0.1:8500")
		}
		for i, a := range cr.Agents {
			c.checkServer(fmt.Sprintf("%s.consul.agents[%d]", path, i), a, false)
		}
		for i, t := range cr.Tags {
			if t == "" || !registryName(t) {
				c.errorf(fmt.Sprintf("%s.consul.tags[%d]", path, i), "%q is empty or has spaces around it or control characters", t)
			}
		}
		c.checkSecret(join(path, "consul"), "token_env", cr.TokenEnv, "token_file", cr.TokenFile)
	}
}

func etcdTLS(e *EtcdRegistration) *UpstreamTLS {
	if e == nil {
		return nil
	}
	return e.TLS
}

func nacosTLS(n *NacosRegistration) *UpstreamTLS {
	if n == nil {
		return nil
	}
	return n.TLS
}

func consulTLS(c *ConsulRegistration) *UpstreamTLS {
	if c == nil {
		return nil
	}
	return c.TLS
}

// wildcardHost reports whether host is empty or an unspecified address,
// which a listener binds but a client cannot dial.
func wildcardHost(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// RegistrationAddress returns the address the gateway registers: address,
// or else the first listener's. It fails when neither names a host that
// clients can dial.
func (cfg *Config) RegistrationAddress() (string, error) {
	addr, msg := cfg.registrationAddress()
	if msg != "" {
		return "", errors.New("registration.address: " + msg)
	}
	return addr, nil
}

func (cfg *Config) registrationAddress() (addr, msg string) {
	r := cfg.Registration
	switch {
	case r == nil:
		return "", "no registration"
	case r.Address != "":
		return r.Address, ""
	case len(cfg.Listeners) == 0:
		return "", "is required without a listener"
	}
	l := cfg.Listeners[0].Listen
	if h, p, err := net.SplitHostPort(l); err != nil || wildcardHost(h) || p == "0" {
		return "", fmt.Sprintf("is required: the first listener listens on %q, which clients cannot dial as it is", l)
	}
	return l, ""
}
