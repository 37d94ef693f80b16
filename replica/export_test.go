package replica

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// DigestOnlyAntiEntropy makes a Config use the anti-entropy rule before
// causal contexts were compared (every object whose digest differs is sent
// whole), so that benchmarks can measure both side by side.
func DigestOnlyAntiEntropy(c *Config) { c.digestOnlyAE = true }

// FullSummaryAntiEntropy makes a Config send a summary of every object in
// every anti-entropy round, as before bucket digests, for the same purpose.
func FullSummaryAntiEntropy(c *Config) { c.fullSummaryAE = true }

// SlowJoins makes a Config retry a failed join only after an hour and
// exchange full memberlist state (push/pull) as rarely, so that a test can
// tell what else makes two sites find each other.
func SlowJoins(c *Config) {
	c.joinBackoff, c.joinBackoffMax = time.Hour, time.Hour
	c.tweakMemberlist = func(mc *memberlist.Config) { mc.PushPullInterval = time.Hour }
}
