package replica

// DigestOnlyAntiEntropy makes a Config use the anti-entropy rule before
// causal contexts were compared (every object whose digest differs is sent
// whole), so that benchmarks can measure both side by side.
func DigestOnlyAntiEntropy(c *Config) { c.digestOnlyAE = true }

// FullSummaryAntiEntropy makes a Config send a summary of every object in
// every anti-entropy round, as before bucket digests, for the same purpose.
func FullSummaryAntiEntropy(c *Config) { c.fullSummaryAE = true }
