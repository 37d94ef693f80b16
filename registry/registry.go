package registry

import (
	"crypto/tls"
	"net/http"
	"time"

	"github.com/duohuo/duohuo/discovery"
)

// Metadata returns what an instance registers as the one string map of a
// registry (Nacos metadata, Consul service meta), which the discovery
// sources read back as labels and locality: its metadata, its labels over
// them, and its locality as the keys cloud, region and zone (the sources'
// default locality keys) over both.
func Metadata(in discovery.Instance) map[string]string {
	m := make(map[string]string, len(in.Metadata)+len(in.Labels)+3)
	for k, v := range in.Metadata {
		m[k] = v
	}
	for k, v := range in.Labels {
		m[k] = v
	}
	for k, v := range map[string]string{"cloud": in.Locality.Cloud, "region": in.Locality.Region, "zone": in.Locality.Zone} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// HTTPClient returns the client of a registrar that speaks HTTP to its
// registry: no proxy from the environment (a registry is reached
// directly), tlsCfg cloned for https, each request bounded by timeout.
func HTTPClient(tlsCfg *tls.Config, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = tlsCfg.Clone()
	return &http.Client{Transport: tr, Timeout: timeout}
}
