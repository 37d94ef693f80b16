package replica

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// Network selects memberlist's timing preset. The zero value is NetworkLAN.
type Network int

// The presets, from memberlist's own defaults (config.go in
// hashicorp/memberlist v0.7.0).
const (
	// NetworkLAN is for sites in one region: gossip every 200ms to 3
	// members, probes every 1s, suspicion after 4 probe intervals.
	NetworkLAN Network = iota
	// NetworkWAN is for sites in different clouds or regions: gossip every
	// 500ms to 4 members, probes every 5s with a 3s timeout, TCP timeout
	// 30s. Slower detection, far fewer false suspicions over long links.
	NetworkWAN
	// NetworkLocal is for one machine (tests, `duohuo demo`): gossip every
	// 100ms, probe timeout 200ms, TCP timeout 1s.
	NetworkLocal
)

func (n Network) memberlist() *memberlist.Config {
	switch n {
	case NetworkWAN:
		return memberlist.DefaultWANConfig()
	case NetworkLocal:
		return memberlist.DefaultLocalConfig()
	default:
		return memberlist.DefaultLANConfig()
	}
}

// antiEntropy returns the preset's default anti-entropy interval: a few
// gossip intervals, much shorter than memberlist's 15-60s push/pull,
// because a partition that heals should converge within seconds (the
// target in docs/replication.md: 2s).
func (n Network) antiEntropy() time.Duration {
	switch n {
	case NetworkWAN:
		return 2 * time.Second
	case NetworkLocal:
		return 250 * time.Millisecond
	default:
		return time.Second
	}
}

// Config configures a [Store]. Name and Dir are required; every other
// field's zero value means the default written on it.
type Config struct {
	// Name is the site's name, unique among the sites (for example
	// "ctyun/cn-north-1"); it is the memberlist node name.
	Name string
	// Dir holds the store's file; created if missing.
	Dir string

	// BindAddr is the address for gossip (UDP) and streams (TCP). Empty
	// means no replication: the store runs alone.
	BindAddr string
	// BindPort is the gossip port; 0 picks a free one.
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other sites dial, when they
	// differ from the bind address (NAT, containers). Empty: the bind
	// address and port.
	AdvertiseAddr string
	AdvertisePort int
	// Join lists "host:port" of sites to join at start. Empty: wait to be
	// joined. Sites that are down at start are found later by the others.
	Join []string
	// SecretKey encrypts gossip and streams with AES-GCM (memberlist's
	// keyring); 16, 24 or 32 bytes, the same on every site. Nil: plain text,
	// only for loopback and tests.
	SecretKey []byte
	// OldKeys are further keys accepted for decryption, never used to
	// encrypt: to rotate, add the new key to OldKeys everywhere, then make
	// it SecretKey everywhere, then drop the old one.
	OldKeys [][]byte
	// Network selects the timing preset; zero is NetworkLAN.
	Network Network
	// AntiEntropyInterval is how often this site compares its state with a
	// random other site and repairs differences. Zero: the preset's (Local
	// 250ms, LAN 1s, WAN 2s).
	AntiEntropyInterval time.Duration
	// Transport replaces memberlist's UDP/TCP transport; tests wrap the real
	// one to cut links. Nil: a memberlist.NetTransport on BindAddr:BindPort.
	Transport memberlist.NodeAwareTransport

	// Clock is the physical clock for the hybrid logical clock. Nil:
	// time.Now.
	Clock func() time.Time
	// MaxClockOffset is how far ahead of local time a remote write's clock
	// may be; deltas further ahead are refused and counted. Zero:
	// crdt.DefaultMaxOffset (500ms).
	MaxClockOffset time.Duration
	// CheckpointEvery is how many logged deltas trigger a checkpoint of
	// dirty objects. Zero: 4096.
	CheckpointEvery int

	// Registerer receives the duohuo_replica_* metrics. Nil: not
	// registered. Use one registry (or prometheus.WrapRegistererWith) per
	// store.
	Registerer prometheus.Registerer
	// Logger receives operator messages. Nil: discarded.
	Logger *slog.Logger

	// hookCommit, if set, runs on the committer before each commit; an
	// error fails the commit as a disk error would. Tests use it to hold a
	// write between applied and durable, or to fail it.
	hookCommit func() error
	// hookCheckpoint, likewise, runs before each checkpoint.
	hookCheckpoint func() error
	// digestOnlyAE restores the old anti-entropy rule (send every object
	// whose digest differs), for benchmarks that compare the two.
	digestOnlyAE bool
	// fullSummaryAE restores the summary of every object in every round,
	// before bucket digests, for the same purpose.
	fullSummaryAE bool
}

func (c *Config) validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("replica: config: Name is required")
	case c.Dir == "":
		return fmt.Errorf("replica: config: Dir is required")
	case c.SecretKey != nil && len(c.SecretKey) != 16 && len(c.SecretKey) != 24 && len(c.SecretKey) != 32:
		return fmt.Errorf("replica: config: SecretKey is %d bytes, want 16, 24 or 32", len(c.SecretKey))
	case len(c.OldKeys) > 0 && c.SecretKey == nil:
		return fmt.Errorf("replica: config: OldKeys without a SecretKey")
	case c.BindPort < 0 || c.BindPort > 65535:
		return fmt.Errorf("replica: config: BindPort %d out of range", c.BindPort)
	case c.AntiEntropyInterval < 0 || c.MaxClockOffset < 0 || c.CheckpointEvery < 0:
		return fmt.Errorf("replica: config: negative AntiEntropyInterval, MaxClockOffset or CheckpointEvery")
	case c.Network < NetworkLAN || c.Network > NetworkLocal:
		return fmt.Errorf("replica: config: unknown Network %d", c.Network)
	}
	return c.validKeys()
}

func (c *Config) validKeys() error {
	for i, k := range c.OldKeys {
		if len(k) != 16 && len(k) != 24 && len(k) != 32 {
			return fmt.Errorf("replica: config: OldKeys[%d] is %d bytes, want 16, 24 or 32", i, len(k))
		}
	}
	return nil
}

func (c *Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Logger
}

func (c *Config) checkpointEvery() int {
	if c.CheckpointEvery == 0 {
		return 4096
	}
	return c.CheckpointEvery
}

func (c *Config) antiEntropyInterval() time.Duration {
	if c.AntiEntropyInterval == 0 {
		return c.Network.antiEntropy()
	}
	return c.AntiEntropyInterval
}
