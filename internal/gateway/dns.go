package gateway

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/discovery"
	"github.com/duohuo/duohuo/discovery/dns"
	"github.com/duohuo/duohuo/internal/config"
)

// newDNSSource builds the DNS source of one entry of a service's discovery
// list.
func newDNSSource(service, name string, c *config.DNSSource) (discovery.Source, error) {
	var typ dns.Type
	switch c.Type {
	case "srv":
		typ = dns.SRV
	case "a":
		typ = dns.A
	case "aaaa":
		typ = dns.AAAA
	default:
		return nil, fmt.Errorf("dns type %q", c.Type)
	}
	dc := dns.Config{
		Service:    service,
		Name:       c.Name,
		Type:       typ,
		Port:       uint16(c.Port),
		Locality:   discovery.Locality{Cloud: c.Cloud, Region: c.Region, Zone: c.Zone},
		SourceName: "dns:" + name,
		MinTTL:     time.Duration(c.MinTTL),
	}
	if c.Resolver != "" {
		dc.Servers = []string{c.Resolver}
	}
	return dns.NewSource(dc)
}
