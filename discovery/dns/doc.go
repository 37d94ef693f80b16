// Package dns is a discovery source that follows DNS records: SRV records
// (Kubernetes headless services, AWS Cloud Map) or A/AAAA records with a
// configured port (Alibaba Cloud PrivateZone, any internal zone).
//
// A [Source] asks the configured resolvers (by default those of
// /etc/resolv.conf), refreshes at the records' TTL clamped between a floor
// and a ceiling, tells a missing name (NXDOMAIN: no instances) from a
// failing resolver (SERVFAIL, timeout: keep the last good answer, for a
// bounded time), and retries truncated UDP answers over TCP.
//
//	src, err := dns.NewSource(dns.Config{
//		Service:  "api",
//		Name:     "_http._tcp.api.prod.svc.cluster.local",
//		Locality: discovery.Locality{Cloud: "ctyun", Region: "cn-north-1"},
//	})
//	if err != nil {
//		return err
//	}
//	agg.Add(src)
package dns
