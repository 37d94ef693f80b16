package replica_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	goleak.VerifyTestMain(m,
		// memberlist's Shutdown does not wait for a probe in flight; it
		// ends by itself within one probe interval. Not ours to stop: every
		// goroutine the stores start is still checked.
		goleak.IgnoreAnyFunction("github.com/hashicorp/memberlist.(*Memberlist).probeNode"),
	)
}
