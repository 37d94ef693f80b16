package breaker

import "testing"

func TestGenerationSkipsZeroWhenItWraps(t *testing.T) {
	for _, c := range []struct{ gen, want uint32 }{{1, 2}, {41, 42}, {^uint32(0) - 1, ^uint32(0)}, {^uint32(0), 1}} {
		if got := next(c.gen); got != c.want {
			t.Errorf("next(%d) = %d, want %d", c.gen, got, c.want)
		}
	}
}

func TestStateWordRoundTrips(t *testing.T) {
	for _, c := range []struct {
		gen           uint32
		s             State
		admitted, suc uint64
	}{
		{1, Closed, 0, 0}, {7, HalfOpen, 1000, 999}, {^uint32(0), Open, fieldMask, fieldMask},
	} {
		gen, s, a, n := unpack(pack(c.gen, c.s, c.admitted, c.suc))
		if gen != c.gen || s != c.s || a != c.admitted || n != c.suc {
			t.Errorf("unpack(pack(%d, %v, %d, %d)) = %d, %v, %d, %d", c.gen, c.s, c.admitted, c.suc, gen, s, a, n)
		}
	}
}
