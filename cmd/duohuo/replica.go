// Wiring of the replicated store for serve: it lives here, not in
// internal/gateway, so that the gateway does not depend on bbolt and
// memberlist (and stays testable under qemu loong64, see build/crosstest.sh).

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/replica"
)

// openReplica opens this site's replica of the replicated state as the
// file's replication section says (package replica). The caller closes it.
func openReplica(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (*replica.Store, error) {
	rc := cfg.Replication
	name := rc.Name
	if name == "" {
		name = cfg.Site.Cloud + "/" + cfg.Site.Region
		if cfg.Site.Cloud == "" {
			name = "duohuo"
		}
	}
	c := replica.Config{Name: name, Dir: rc.Dir, Join: rc.Join, Registerer: reg, Logger: log}
	if rc.SecretKey != "" {
		c.SecretKey = []byte(rc.SecretKey)
	}
	for _, k := range rc.OldKeys {
		c.OldKeys = append(c.OldKeys, []byte(k))
	}
	switch rc.Network {
	case "local":
		c.Network = replica.NetworkLocal
	case "lan":
		c.Network = replica.NetworkLAN
	default:
		c.Network = replica.NetworkWAN
	}
	var err error
	if rc.Bind != "" {
		if c.BindAddr, c.BindPort, err = splitHostPort(rc.Bind); err != nil {
			return nil, fmt.Errorf("replication.bind: %w", err)
		}
	}
	if rc.Advertise != "" {
		if c.AdvertiseAddr, c.AdvertisePort, err = splitHostPort(rc.Advertise); err != nil {
			return nil, fmt.Errorf("replication.advertise: %w", err)
		}
	}
	return replica.Open(ctx, c)
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	return h, n, err
}
