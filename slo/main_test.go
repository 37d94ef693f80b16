package slo_test

import (
	"testing"

	"go.uber.org/goleak"
)

// slo starts no goroutines; goleak checks that the concurrent tests'
// goroutines end too.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
