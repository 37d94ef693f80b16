//go:build race

package gray_test

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// regexp's pooled matchers allocate; allocation counts are not meaningful.
const raceEnabled = true
