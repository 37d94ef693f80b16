package linearize_test

import (
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/duohuo/duohuo/lock/linearize"
)

// lockHistory builds a correct history of n critical sections by clients
// taking turns, each waiting acquire overlapping the previous holder's
// release (the checker's work grows with such overlap).
func lockHistory(n, clients int) (mutex, reg []porcupine.Operation) {
	t := int64(0)
	for i := range n {
		c := i % clients
		acqCall := t - int64(clients)*3 // waiting while others held it
		mutex = append(mutex, mop(c, linearize.AcquireOK, span{max(acqCall, 0), t + 1}))
		reg = append(reg, rop(c, int64(i), linearize.WriteOK, span{t + 2, t + 3}))
		mutex = append(mutex, mop(c, linearize.ReleaseOK, span{t + 4, t + 5}))
		t += 6
	}
	return mutex, reg
}

// BenchmarkCheck is the checker's cost per history of 1000 critical sections
// by 8 clients, the size of a long verify run.
func BenchmarkCheck(b *testing.B) {
	mutex, reg := lockHistory(1000, 8)
	b.Run("mutex", func(b *testing.B) {
		m := linearize.MutexModel.ToModel()
		b.ReportAllocs()
		for b.Loop() {
			if !porcupine.CheckOperations(m, mutex) {
				b.Fatal("a correct history was rejected")
			}
		}
	})
	b.Run("register", func(b *testing.B) {
		m := linearize.RegisterModel.ToModel()
		b.ReportAllocs()
		for b.Loop() {
			if !porcupine.CheckOperations(m, reg) {
				b.Fatal("a correct history was rejected")
			}
		}
	})
}
