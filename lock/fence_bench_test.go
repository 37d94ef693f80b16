package lock_test

import (
	"testing"

	"github.com/duohuo/duohuo/lock"
)

// BenchmarkFenceAdmit is the per-access cost a store pays to check a token.
func BenchmarkFenceAdmit(b *testing.B) {
	var f lock.Fence
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f.Admit(42)
		}
	})
}
