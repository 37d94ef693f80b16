// Wiring of the replicated store for serve: it lives here, not in
// internal/gateway, so that the gateway does not depend on bbolt and
// memberlist (and stays testable under qemu loong64, see build/crosstest.sh).

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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

// replicaDegraded says, for /readyz, what is wrong with the replica: why it
// did not open, or that recovery quarantined records. Neither makes the
// gateway unready: its data plane serves either way, and an orchestrator
// that took it out of rotation would stop traffic the replica does not
// carry.
func replicaDegraded(rep *replica.Store, openErr error) func() []string {
	return func() []string {
		switch {
		case openErr != nil:
			return []string{"replica: not started: " + openErr.Error()}
		case rep != nil:
			if n := len(rep.Quarantined()); n > 0 {
				return []string{fmt.Sprintf("replica: %d record(s) quarantined at recovery; see duohuo kv status", n)}
			}
		}
		return nil
	}
}

// replicaUnavailable answers the replicated store's API while it is not
// running: 503 with the reason.
func replicaUnavailable(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "replicated store not started: "+err.Error(), http.StatusServiceUnavailable)
	})
}
