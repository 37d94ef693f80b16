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
		// bbolt's and memberlist's package-level goroutines are not ours;
		// the stores' own goroutines are checked.
		goleak.IgnoreAnyFunction("github.com/hashicorp/go-metrics.(*InmemSignal).run"),
		goleak.IgnoreAnyFunction("github.com/hashicorp/go-metrics.NewInmemSink.func1"),
	)
}
