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
	// Join lists "host:port" of sites to join. Open does not wait for
	// them: joins run in the background and are retried with backoff while
	// a site is not connected, as are the addresses of every member seen
	// before (see joiner.go and docs/replication.md, "Joins"). Empty: wait
	// to be joined, and join former members.
	Join []string
	// SecretKey encrypts gossip and streams with AES-GCM (memberlist's
	// keyring); 16, 24 or 32 bytes, the same on every site. Nil: plain text,
	// only for loopback and tests.
	SecretKey []byte
	// OldKeys are further keys accepted for decryption, never used to
	// encrypt: to rotate, add the new key to OldKeys everywhere, then make
	// it SecretKey everywhere, then drop the old one.
	OldKeys [][]byte
	// AtRest, if set, encrypts and authenticates the values the store
	// writes to its file: object states, log entries and the states of
	// kind conflicts (see [Sealer] and docs/replication.md, "Encryption at
	// rest"); *gm.KeyRing is the SM4-GCM one. A file written without it
	// opens with it (clear records read as they are, and the store seals
	// them again at once, as it does records of a retired key); a sealed
	// record that does not open is quarantined. Nil: values are written
	// clear, and a file holding sealed records does not open ([ErrNoKeys]).
	// Replication is not affected: SecretKey encrypts the wire.
	AtRest Sealer
	// Network selects the timing preset; zero is NetworkLAN.
	Network Network
	// AntiEntropyInterval is how often this site compares its state with a
	// random other site and repairs differences. Zero: the preset's (Local
	// 250ms, LAN 1s, WAN 2s).
	AntiEntropyInterval time.Duration
	// ProbeInterval is how often memberlist probes a random member for
	// liveness; ProbeTimeout how long it waits for the answer before
	// asking others to probe it. Zero: the preset's (Local 1s and 200ms,
	// LAN 1s and 500ms, WAN 5s and 3s).
	ProbeInterval, ProbeTimeout time.Duration
	// SuspicionMult scales how long a member that missed its probes stays
	// suspect before it is declared dead: SuspicionMult × log10(members+1)
	// × ProbeInterval, refutable by the member meanwhile. Zero: the
	// preset's (Local 3, LAN 4, WAN 6).
	SuspicionMult int
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
	// joinBackoff and joinBackoffMax replace the first and the largest
	// wait between join attempts to one peer (see joiner.go).
	joinBackoff, joinBackoffMax time.Duration
	// tweakMemberlist, if set, edits memberlist's config last.
	tweakMemberlist func(*memberlist.Config)
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
	case c.ProbeInterval < 0 || c.ProbeTimeout < 0 || c.SuspicionMult < 0:
		return fmt.Errorf("replica: config: negative ProbeInterval, ProbeTimeout or SuspicionMult")
	case c.ProbeTimeout > 0 && c.ProbeInterval > 0 && c.ProbeTimeout >= c.ProbeInterval:
		return fmt.Errorf("replica: config: ProbeTimeout %v must be below ProbeInterval %v", c.ProbeTimeout, c.ProbeInterval)
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

// memberlist returns memberlist's config for the preset with the timings
// this Config sets.
func (c *Config) memberlist() *memberlist.Config {
	mc := c.Network.memberlist()
	if c.ProbeInterval > 0 {
		mc.ProbeInterval = c.ProbeInterval
	}
	if c.ProbeTimeout > 0 {
		mc.ProbeTimeout = c.ProbeTimeout
	}
	if mc.ProbeTimeout >= mc.ProbeInterval {
		mc.ProbeTimeout = mc.ProbeInterval / 2
	}
	if c.SuspicionMult > 0 {
		mc.SuspicionMult = c.SuspicionMult
	}
	return mc
}

// joinBackoffs returns the first and the largest wait between join
// attempts to one peer: about a probe interval at first, so that a peer
// back after a short cut is found at once, doubling to 30s, so that a site
// gone for long costs one attempt per half minute.
func (c *Config) joinBackoffs() (base, ceiling time.Duration) {
	base, ceiling = c.joinBackoff, c.joinBackoffMax
	if base == 0 {
		base = time.Second
		if c.Network == NetworkLocal {
			base = 100 * time.Millisecond
		}
	}
	if ceiling == 0 {
		ceiling = 30 * time.Second
	}
	return base, max(base, ceiling)
}

func (c *Config) antiEntropyInterval() time.Duration {
	if c.AntiEntropyInterval == 0 {
		return c.Network.antiEntropy()
	}
	return c.AntiEntropyInterval
}
