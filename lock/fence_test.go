package lock_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/duohuo/duohuo/lock"
)

func TestFenceAdmit(t *testing.T) {
	var f lock.Fence
	steps := []struct {
		name  string
		token lock.Token
		want  error
	}{
		{"a fresh fence admits the first token", 5, nil},
		{"the same token is admitted again (one holder, many writes)", 5, nil},
		{"a newer holder's token is admitted", 9, nil},
		{"the older holder is refused afterwards", 5, lock.ErrStaleToken},
		{"zero is never a granted token", 0, lock.ErrStaleToken},
		{"a negative token is refused", -1, lock.ErrStaleToken},
		{"the newest holder is still admitted", 9, nil},
	}
	for _, st := range steps {
		if err := f.Admit(st.token); !errors.Is(err, st.want) {
			t.Fatalf("%s: Admit(%d) = %v, want %v", st.name, st.token, err, st.want)
		}
	}
	if got := f.Highest(); got != 9 {
		t.Fatalf("Highest() = %d, want 9", got)
	}
}

func TestFenceAdmitsTheMaximumUnderConcurrency(t *testing.T) {
	var f lock.Fence
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { f.Admit(lock.Token(i + 1)) })
	}
	wg.Wait()
	if got := f.Highest(); got != 64 {
		t.Fatalf("Highest() after admitting 1..64 concurrently = %d, want 64", got)
	}
	if err := f.Admit(63); !errors.Is(err, lock.ErrStaleToken) {
		t.Fatalf("Admit(63) after 64: %v, want ErrStaleToken", err)
	}
}

// FuzzFenceIsMonotone checks the fence's law: a token is admitted exactly
// when it is positive and not below every token admitted before it, and
// Highest is the maximum admitted.
func FuzzFenceIsMonotone(f *testing.F) {
	f.Add([]byte{5, 5, 9, 5, 0, 9})
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{3, 2, 1})
	f.Fuzz(func(t *testing.T, seq []byte) {
		var fence lock.Fence
		var highest lock.Token
		for _, b := range seq {
			tok := lock.Token(int8(b))
			err := fence.Admit(tok)
			wantOK := tok > 0 && tok >= highest
			if (err == nil) != wantOK {
				t.Fatalf("Admit(%d) after highest %d: err = %v, want admitted = %v", tok, highest, err, wantOK)
			}
			if err != nil && !errors.Is(err, lock.ErrStaleToken) {
				t.Fatalf("Admit(%d): err = %v, want ErrStaleToken", tok, err)
			}
			if wantOK {
				highest = tok
			}
			if fence.Highest() != highest {
				t.Fatalf("Highest() = %d, want %d", fence.Highest(), highest)
			}
		}
	})
}
