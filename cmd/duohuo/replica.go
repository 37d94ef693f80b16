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
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duohuo/duohuo/gm"
	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/gateway"
	"github.com/duohuo/duohuo/internal/globallimit"
	"github.com/duohuo/duohuo/internal/graysync"
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
	c.AntiEntropyInterval = time.Duration(rc.AntiEntropyInterval)
	c.ProbeInterval = time.Duration(rc.ProbeInterval)
	c.ProbeTimeout = time.Duration(rc.ProbeTimeout)
	c.SuspicionMult = rc.SuspicionMult
	c.MaxClockOffset = time.Duration(rc.MaxClockOffset)
	if rc.AtRest != nil {
		ring, err := loadAtRestRing(rc.AtRest)
		if err != nil {
			return nil, fmt.Errorf("replication.at_rest: %w", err)
		}
		c.AtRest = ring
	}
	if c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval {
		return nil, fmt.Errorf("replication.probe_timeout: %v must be below probe_interval %v", c.ProbeTimeout, c.ProbeInterval)
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

// loadAtRestRing reads the SM4 key ring of replication.at_rest from its
// file (refused unless private to its owner) or its environment variable.
func loadAtRestRing(a *config.AtRest) (*gm.KeyRing, error) {
	file, env := a.Source()
	if file != "" {
		return gm.LoadKeyRing(file)
	}
	v := os.Getenv(env)
	if v == "" {
		return nil, fmt.Errorf("environment variable %s is not set or empty: it must hold the at-rest key ring", env)
	}
	ring, err := gm.ParseKeyRing(v)
	if err != nil {
		return nil, fmt.Errorf("environment variable %s: %w", env, err)
	}
	return ring, nil
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
// did not open, that recovery quarantined records, that it holds kind
// conflicts, or which peers it cannot join (unreachable, or refusing our
// key). None makes the gateway unready:
// its data plane serves either way, and an orchestrator that took it out of
// rotation would stop traffic the replica does not carry.
func replicaDegraded(rep *replica.Store, openErr error) func() []string {
	return func() []string {
		if openErr != nil {
			return []string{"replica: not started: " + openErr.Error()}
		}
		if rep == nil {
			return nil
		}
		var out []string
		if n := len(rep.Quarantined()); n > 0 {
			out = append(out, fmt.Sprintf("replica: %d record(s) quarantined at recovery; see duohuo kv status", n))
		}
		if n := rep.ConflictCount(); n > 0 {
			out = append(out, fmt.Sprintf("replica: %d kind conflict(s): an object was created as two kinds at different sites; the kind created first is kept, the other's state is kept aside; see duohuo kv status", n))
		}
		for _, p := range rep.Peers() {
			switch p.State {
			case replica.PeerUnreachable:
				out = append(out, fmt.Sprintf("replica: peer %s unreachable since %s (%d attempts, retrying): %s",
					peerName(p), p.Since.UTC().Format(time.RFC3339), p.Failures, oneLine(p.Error)))
			case replica.PeerKeyRefused:
				out = append(out, fmt.Sprintf("replica: peer %s refuses this site's key, or sends what its keys cannot decrypt (check replication.secret_key and old_keys on both): %s",
					peerName(p), oneLine(p.Error)))
			}
		}
		return out
	}
}

// peerName names a join target: its address, and the site last seen there.
func peerName(p replica.Peer) string {
	if p.Site == "" {
		return p.Addr
	}
	return p.Addr + " (" + p.Site + ")"
}

// oneLine folds memberlist's multi-line errors into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// replicaUnavailable answers the replicated store's API while it is not
// running: 503 with the reason.
func replicaUnavailable(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "replicated store not started: "+err.Error(), http.StatusServiceUnavailable)
	})
}

// startGraySync replicates the gateway's run-time gray policies through the
// replica, counting what it writes and reads in
// duohuo_gray_sync_total{direction,result}.
func startGraySync(g *gateway.Gateway, rep *replica.Store, reg prometheus.Registerer, log *slog.Logger) (*graysync.Sync, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "duohuo_gray_sync_total",
		Help: "Gray policy registers written to the replica (direction out) and read from other sites (in), by result: ok, invalid, unknown_route, replaced_local, error.",
	}, []string{"direction", "result"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("gray sync metrics: %w", err)
	}
	return graysync.Start(graysync.Config{
		Gray: g.GrayStore(), Replica: rep, Routes: g.RouteNames, Logger: log,
		Observe: func(direction, result string) { c.WithLabelValues(direction, result).Inc() },
	})
}

// globalCounters gives the gateway the replica-backed counters of its
// global rate limits.
type globalCounters struct{ s *globallimit.Shared }

func (g globalCounters) Counter(name string, flush time.Duration) gateway.GlobalCounter {
	return g.s.Counter(name, flush)
}
