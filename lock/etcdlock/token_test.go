package etcdlock

import (
	"strings"
	"testing"

	"github.com/duohuo/duohuo/lock"
)

// FuzzEncodeTokenKeepsOrder checks the law the etcd Fence relies on: etcd
// compares values byte-wise, so encoded tokens must compare as strings in the
// same order as the tokens do as numbers.
func FuzzEncodeTokenKeepsOrder(f *testing.F) {
	f.Add(int64(10), int64(11))
	f.Add(int64(99), int64(100))
	f.Add(int64(1), int64(1<<62))
	f.Add(int64(0), int64(0))
	f.Fuzz(func(t *testing.T, a, b int64) {
		if a < 0 || b < 0 {
			return // tokens are revisions: never negative
		}
		ea, eb := encodeToken(lock.Token(a)), encodeToken(lock.Token(b))
		if len(ea) != tokenWidth || len(eb) != tokenWidth {
			t.Fatalf("encodeToken(%d) = %q, encodeToken(%d) = %q: want width %d", a, ea, b, eb, tokenWidth)
		}
		if got, want := strings.Compare(ea, eb), cmp(a, b); got != want {
			t.Fatalf("compare(encode(%d), encode(%d)) = %d, want %d", a, b, got, want)
		}
	})
}

func cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
