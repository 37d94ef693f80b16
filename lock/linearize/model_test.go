package linearize_test

import (
	"testing"

	"github.com/anishathalye/porcupine"

	"github.com/duohuo/duohuo/lock/linearize"
)

type span struct{ call, ret int64 }

func mop(c int, k linearize.MutexKind, s span) porcupine.Operation {
	return porcupine.Operation{ClientId: c, Input: linearize.MutexIn(k, c), Call: s.call, Return: s.ret}
}

func rop(c int, read int64, o linearize.WriteOutcome, s span) porcupine.Operation {
	return porcupine.Operation{ClientId: c, Input: linearize.IncrIn(c, read, o), Call: s.call, Return: s.ret}
}

func TestMutexModel(t *testing.T) {
	L := linearize.AcquireOK
	U := linearize.ReleaseOK
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want bool
	}{
		{"one holder after another is linearizable", []porcupine.Operation{
			mop(0, L, span{0, 1}), mop(0, U, span{2, 3}), mop(1, L, span{4, 5}), mop(1, U, span{6, 7}),
		}, true},
		{"an acquire may wait on a release that overlaps it", []porcupine.Operation{
			mop(0, L, span{0, 1}), mop(1, L, span{2, 6}), mop(0, U, span{3, 4}), mop(1, U, span{7, 8}),
		}, true},
		{"two clean holders at once are a violation", []porcupine.Operation{
			mop(0, L, span{0, 1}), mop(1, L, span{2, 3}), mop(0, U, span{4, 5}), mop(1, U, span{6, 7}),
		}, false},
		{"a lock lost since its acquire began frees it for the next holder", []porcupine.Operation{
			mop(0, L, span{0, 1}), mop(1, L, span{2, 3}), mop(0, linearize.ReleaseUncertain, span{0, 5}), mop(1, U, span{6, 7}),
		}, true},
		{"a release by a client that never held the lock is a violation", []porcupine.Operation{
			mop(0, L, span{0, 1}), mop(1, U, span{2, 3}),
		}, false},
		{"an unknown acquire may have taken the lock", []porcupine.Operation{
			mop(0, linearize.AcquireUnknown, span{0, 1}), mop(0, linearize.ReleaseUncertain, span{0, 3}), mop(1, L, span{4, 5}),
		}, true},
		{"an unknown acquire may also have failed", []porcupine.Operation{
			mop(0, linearize.AcquireUnknown, span{0, 1}), mop(1, L, span{2, 3}), mop(1, U, span{4, 5}), mop(0, linearize.ReleaseUncertain, span{0, 6}),
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := porcupine.CheckOperations(linearize.MutexModel.ToModel(), tt.ops)
			if got != tt.want {
				t.Fatalf("CheckOperations(mutex, %v) = %v, want %v", tt.ops, got, tt.want)
			}
		})
	}
}

func TestRegisterModel(t *testing.T) {
	ok, refused, unknown := linearize.WriteOK, linearize.WriteRefused, linearize.WriteUnknown
	tests := []struct {
		name string
		ops  []porcupine.Operation
		want bool
	}{
		{"sequential increments are linearizable", []porcupine.Operation{
			rop(0, 0, ok, span{0, 1}), rop(1, 1, ok, span{2, 3}), rop(0, 2, ok, span{4, 5}),
		}, true},
		{"two increments from the same read are a lost update", []porcupine.Operation{
			rop(0, 0, ok, span{0, 3}), rop(1, 0, ok, span{1, 4}),
		}, false},
		{"a stale holder writing back an old value is a lost update", []porcupine.Operation{
			rop(0, 0, ok, span{0, 10}), rop(1, 0, ok, span{2, 3}), rop(2, 1, ok, span{4, 5}),
		}, false},
		{"a refused stale write changes nothing", []porcupine.Operation{
			rop(0, 0, refused, span{0, 10}), rop(1, 0, ok, span{2, 3}), rop(2, 1, ok, span{4, 5}),
		}, true},
		{"an unknown write may have landed", []porcupine.Operation{
			rop(0, 0, unknown, span{0, 1}), rop(1, 1, ok, span{2, 3}),
		}, true},
		{"an unknown write may have been lost", []porcupine.Operation{
			rop(0, 0, unknown, span{0, 1}), rop(1, 0, ok, span{2, 3}),
		}, true},
		{"a read of a value nobody wrote is a violation", []porcupine.Operation{
			rop(0, 5, ok, span{0, 1}),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := porcupine.CheckOperations(linearize.RegisterModel.ToModel(), tt.ops)
			if got != tt.want {
				t.Fatalf("CheckOperations(register, %v) = %v, want %v", tt.ops, got, tt.want)
			}
		})
	}
}
