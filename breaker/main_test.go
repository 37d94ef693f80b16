package breaker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The breaker starts no goroutines; goleak checks that the concurrent
// tests' goroutines end too.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
