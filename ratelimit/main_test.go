package ratelimit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The limiters start no goroutines; goleak checks that the tests' own
// (waiters, concurrent callers) end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
